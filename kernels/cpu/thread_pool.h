// A persistent pool of worker threads for bandwidth-bound host work (the CPU Adam of offloaded
// chunks, and the triad that measures what bandwidth there is).
//
// Workers are started once and park on a condition variable between jobs: no thread creation or
// OpenMP fork/join per call (DeepSpeed's CPU Adam forks per tile; see docs/DESIGN.md §5).
// A job is a function every worker runs once with (worker, nworkers); the job splits its own work,
// normally with static_tiles(), so the split depends only on the worker count, never on timing.
//
// Ordering invariant: jobs run one at a time, in ticket order; job t+1 starts only after every
// worker has finished job t. So wait(t) means "jobs 1..t are done", and two jobs may touch the
// same memory with different splits (e.g. a chunk, then a slice of it) without a race. Starting
// t+1 early on idle workers would save only the tail imbalance of t, and would race exactly then.
//
// Binding: each worker can be bound to one PU (hwloc_set_cpubind, HWLOC_CPUBIND_THREAD). A failed
// binding is reported (binding_report(), one stderr line) and the worker runs unbound.
#pragma once
#include <hwloc.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mart {

struct ThreadPoolOptions {
  // Number of workers; 0 = one per PU of `cpuset` when given, else
  // std::thread::hardware_concurrency.
  int threads = 0;
  // Worker i is bound to PU pus[i % pus.size()] (OS indices, as taskset/lscpu number them).
  std::vector<int> pus;
  // Alternative to `pus`: worker i is bound to the i-th PU of this set (round robin). Not owned;
  // read only during construction. Giving both `pus` and `cpuset` is an error.
  hwloc_const_cpuset_t cpuset = nullptr;
  // Prefix of the stderr warning printed when a binding fails; empty = print nothing.
  std::string warn_prefix = "mart: thread pool";
};

class ThreadPool {
 public:
  using Ticket = uint64_t;
  // Runs once per worker per job. Must not call wait() on its own pool (it would deadlock).
  using Task = std::function<void(int worker, int nworkers)>;
  // Called once per job by the last worker to finish it, with the job's wall time (first worker
  // start to last worker end), before the job's ticket counts as complete. Runs under the pool's
  // lock: it must be short and must not call into the pool.
  using Done = std::function<void(double seconds)>;

  explicit ThreadPool(const ThreadPoolOptions& opt = {});
  // Runs every submitted job to completion, then stops and joins the workers.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()); }
  // Tickets are 1, 2, 3, ... in submission order.
  Ticket submit(Task task, Done done = {});
  // Blocks until jobs 1..t are complete; rethrows the first exception a task of those jobs threw.
  void wait(Ticket t);
  void wait_all();
  bool done(Ticket t) const;
  void run(Task task) { wait(submit(std::move(task))); }

  // One line per worker whose binding failed; empty when all succeeded or none was asked for.
  const std::string& binding_report() const { return binding_report_; }
  // The PU (OS index) each worker was bound to, or -1 when unbound.
  const std::vector<int>& worker_pus() const { return worker_pus_; }

 private:
  struct Job;
  void worker_main(int w, int nw);
  Job* runnable(Ticket t);  // requires mu_; job t when it is queued and t-1 is complete, else null

  std::vector<std::thread> workers_;
  std::vector<int> worker_pus_;
  std::string binding_report_;
  hwloc_topology_t topo_ = nullptr;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;        // a job arrived, or stop
  std::condition_variable done_cv_;        // a ticket completed
  std::deque<std::unique_ptr<Job>> jobs_;  // tickets completed_+1 .. next_-1, in order; front runs
  std::map<Ticket, std::exception_ptr> errors_;
  Ticket next_ = 1;
  Ticket completed_ = 0;
  bool stop_ = false;
};

// The half-open element range [begin, end) worker `w` of `nw` owns when n elements are cut into
// tiles of `tile` elements and each worker gets a contiguous run of whole tiles (the first
// ntiles % nw workers one tile more). Tile edges are multiples of `tile` from element 0, so with
// 64-byte-aligned buffers and tile a multiple of 16 no two workers write the same cache line.
struct Range {
  size_t begin = 0, end = 0;
};
Range static_tiles(size_t n, size_t tile, int w, int nw);

}  // namespace mart
