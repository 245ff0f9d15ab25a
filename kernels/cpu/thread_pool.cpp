#include "kernels/cpu/thread_pool.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "common/error.h"

namespace mart {

struct ThreadPool::Job {
  Task task;
  Done done;
  Ticket ticket = 0;
  int started = 0;   // workers that began it
  int finished = 0;  // workers that ended it; == size() means done
  std::chrono::steady_clock::time_point t0, t1;
  std::exception_ptr error;
};

namespace {

std::vector<int> cpuset_pus(hwloc_const_cpuset_t set) {
  std::vector<int> pus;
  int id = hwloc_bitmap_first(set);
  while (id >= 0) {
    pus.push_back(id);
    id = hwloc_bitmap_next(set, id);
  }
  return pus;
}

// Binds the calling thread to PU `pu` (OS index). Returns an empty string or why it failed.
std::string bind_self(hwloc_topology_t topo, int pu) {
  if (!hwloc_get_pu_obj_by_os_index(topo, static_cast<unsigned>(pu)))
    return str("PU ", pu, " does not exist in this machine's topology");
  hwloc_bitmap_t set = hwloc_bitmap_alloc();
  hwloc_bitmap_only(set, static_cast<unsigned>(pu));
  const int rc = hwloc_set_cpubind(topo, set, HWLOC_CPUBIND_THREAD);
  const int err = errno;
  hwloc_bitmap_free(set);
  if (rc != 0) return str("hwloc_set_cpubind(PU ", pu, ") failed: ", std::strerror(err));
  return {};
}

}  // namespace

ThreadPool::ThreadPool(const ThreadPoolOptions& opt) {
  MART_CHECK(opt.threads >= 0, "thread pool size must be >= 0 (0 = one per PU), got ", opt.threads);
  MART_CHECK(opt.pus.empty() || !opt.cpuset,
             "thread pool: give either a PU list or a cpuset to bind workers to, not both");
  std::vector<int> targets = opt.pus;
  if (opt.cpuset) {
    targets = cpuset_pus(opt.cpuset);
    MART_CHECK(!targets.empty(), "thread pool: the cpuset to bind workers to is empty");
  }
  for (int pu : targets) MART_CHECK(pu >= 0, "thread pool: PU index must be >= 0, got ", pu);
  int n = opt.threads;
  if (n == 0)
    n = opt.cpuset ? static_cast<int>(targets.size())
                   : static_cast<int>(std::thread::hardware_concurrency());
  n = std::max(n, 1);
  if (!targets.empty()) {
    MART_CHECK(hwloc_topology_init(&topo_) == 0 && hwloc_topology_load(topo_) == 0,
               "thread pool: hwloc could not load the machine topology: ", std::strerror(errno));
  }

  worker_pus_.assign(n, -1);
  std::vector<std::string> bind_errors(n);
  int ready = 0;
  try {
    for (int w = 0; w < n; ++w) {
      const int pu = targets.empty() ? -1 : targets[w % targets.size()];
      workers_.emplace_back([this, w, n, pu, &bind_errors, &ready] {
        if (pu >= 0) {
          bind_errors[w] = bind_self(topo_, pu);
          if (bind_errors[w].empty()) worker_pus_[w] = pu;
        }
        {
          std::lock_guard<std::mutex> lk(mu_);
          ++ready;
        }
        done_cv_.notify_all();
        worker_main(w, n);
      });
    }
  } catch (...) {  // thread creation failed: stop the ones that started, then report
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    work_cv_.notify_all();
    for (auto& t : workers_) t.join();
    if (topo_) hwloc_topology_destroy(topo_);
    throw;
  }
  // Wait for every binding attempt, so the report below is complete and bind_errors (a local the
  // workers write) is no longer touched after we return.
  std::unique_lock<std::mutex> lk(mu_);
  done_cv_.wait(lk, [&] { return ready == n; });
  for (int w = 0; w < n; ++w) {
    if (bind_errors[w].empty()) continue;
    binding_report_ += str("worker ", w, ": ", bind_errors[w], "\n");
    if (!opt.warn_prefix.empty())
      std::fprintf(stderr, "%s: worker %d runs unbound: %s\n", opt.warn_prefix.c_str(), w,
                   bind_errors[w].c_str());
  }
}

ThreadPool::~ThreadPool() {
  {
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [&] { return completed_ + 1 == next_; });
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
  if (topo_) hwloc_topology_destroy(topo_);
}

ThreadPool::Job* ThreadPool::runnable(Ticket t) {
  // Only the front job runs: t must be the first incomplete ticket.
  return (t == completed_ + 1 && !jobs_.empty()) ? jobs_.front().get() : nullptr;
}

ThreadPool::Ticket ThreadPool::submit(Task task, Done done) {
  MART_CHECK(static_cast<bool>(task), "thread pool: submitted an empty task");
  auto job = std::make_unique<Job>();
  job->task = std::move(task);
  job->done = std::move(done);
  Ticket t;
  {
    std::lock_guard<std::mutex> lk(mu_);
    MART_CHECK(!stop_, "thread pool: submit after shutdown");
    t = job->ticket = next_++;
    jobs_.push_back(std::move(job));
  }
  work_cv_.notify_all();
  return t;
}

void ThreadPool::worker_main(int w, int nw) {
  // nw is passed in: workers_ is still being filled while the first workers start.
  Ticket mine = 1;  // the next ticket this worker runs
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    work_cv_.wait(lk, [&] { return stop_ || runnable(mine) != nullptr; });
    Job* job = runnable(mine);
    if (!job) return;  // stop_, and nothing left for this worker
    if (job->started++ == 0) job->t0 = std::chrono::steady_clock::now();
    lk.unlock();
    std::exception_ptr err;
    try {
      job->task(w, nw);
    } catch (...) {
      err = std::current_exception();
    }
    lk.lock();
    if (err && !job->error) job->error = err;
    ++mine;
    if (++job->finished < nw) continue;
    // Last worker out: account, record any error, retire, wake waiters and the other workers.
    job->t1 = std::chrono::steady_clock::now();
    if (job->done) {
      try {
        job->done(std::chrono::duration<double>(job->t1 - job->t0).count());
      } catch (...) {
        if (!job->error) job->error = std::current_exception();
      }
    }
    if (job->error) errors_[job->ticket] = job->error;
    completed_ = job->ticket;
    jobs_.pop_front();
    done_cv_.notify_all();
    if (!jobs_.empty()) work_cv_.notify_all();
  }
}

void ThreadPool::wait(Ticket t) {
  for (const auto& th : workers_)
    MART_CHECK(th.get_id() != std::this_thread::get_id(),
               "thread pool: wait() called from one of its own workers (would deadlock)");
  std::exception_ptr err;
  {
    std::unique_lock<std::mutex> lk(mu_);
    MART_CHECK(t < next_, "thread pool: wait for ticket ", t, " which was never issued (last is ",
               next_ - 1, ")");
    done_cv_.wait(lk, [&] { return completed_ >= t; });
    auto end = errors_.upper_bound(t);
    if (errors_.begin() != end) err = errors_.begin()->second;
    errors_.erase(errors_.begin(), end);
  }
  if (err) std::rethrow_exception(err);
}

void ThreadPool::wait_all() {
  Ticket last;
  {
    std::lock_guard<std::mutex> lk(mu_);
    last = next_ - 1;
  }
  wait(last);
}

bool ThreadPool::done(Ticket t) const {
  std::lock_guard<std::mutex> lk(mu_);
  return completed_ >= t;
}

Range static_tiles(size_t n, size_t tile, int w, int nw) {
  MART_CHECK(tile > 0 && nw > 0 && w >= 0 && w < nw, "static_tiles: bad tile ", tile, " or worker ",
             w, " of ", nw);
  const size_t ntiles = (n + tile - 1) / tile;
  const size_t base = ntiles / nw, rem = ntiles % nw, uw = static_cast<size_t>(w);
  const size_t first = uw * base + std::min(uw, rem);
  const size_t count = base + (uw < rem ? 1 : 0);
  return {std::min(n, first * tile), std::min(n, (first + count) * tile)};
}

}  // namespace mart
