// The CPU backend's device: compute inline on the caller, copy streams on worker threads.
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/units.h"
#include "device/cuda_backend.h"
#include "device/device.h"

namespace mart {
namespace {

using Clock = std::chrono::steady_clock;

// The first exception a stream's host tasks threw that no synchronize has reported yet. Shared by
// the stream and the events recorded on it, so an event synchronize can report it too.
class StreamErrors {
 public:
  void capture(std::exception_ptr e) {
    std::lock_guard<std::mutex> lk(mu_);
    if (!first_) first_ = std::move(e);  // later ones are consequences, most likely
  }
  bool pending() {
    std::lock_guard<std::mutex> lk(mu_);
    return first_ != nullptr;
  }
  // The pending exception, cleared: each is reported once, and the stream stays usable.
  std::exception_ptr take() {
    std::lock_guard<std::mutex> lk(mu_);
    return std::exchange(first_, nullptr);
  }

 private:
  std::mutex mu_;
  std::exception_ptr first_;
};

void rethrow_if(const std::exception_ptr& e) {
  if (e) std::rethrow_exception(e);
}

// Invariant: `done` goes false -> true exactly once, under `mu`; `at` is set before `done`.
struct CpuEvent : EventImpl {
  std::shared_ptr<StreamErrors> errors;  // the recording stream's (null: the inline compute stream)
  bool error_before = false;  // an unreported exception preceded this event in its stream
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Clock::time_point at;
  void complete() {
    std::lock_guard<std::mutex> lk(mu);
    at = Clock::now();
    done = true;
    cv.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> lk(mu);
    cv.wait(lk, [&] { return done; });
  }
};

// A FIFO of host closures run in order by one worker thread. Stream 0 (compute) has no worker:
// its work runs inline, so everything "enqueued" on it is complete on return. A closure that
// throws does not stop the worker: the exception is kept for the next synchronize and the
// following closures run (so the events behind it complete and nobody waits forever).
class WorkerStream {
 public:
  explicit WorkerStream(std::string name) : name_(std::move(name)), th_([this] { loop(); }) {}
  ~WorkerStream() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    th_.join();
  }
  void push(std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      q_.push_back(std::move(fn));
    }
    cv_.notify_all();
  }
  // Waits until everything queued so far has run; returns (and clears) the first exception a
  // closure threw since the last report, or null.
  std::exception_ptr drain() {
    auto ev = std::make_shared<CpuEvent>();
    push([ev] { ev->complete(); });
    ev->wait();
    return errors_->take();
  }
  const std::shared_ptr<StreamErrors>& errors() const { return errors_; }

 private:
  void loop() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stop_ || !q_.empty(); });
        if (q_.empty()) return;  // stop_ and drained
        fn = std::move(q_.front());
        q_.pop_front();
      }
      try {
        fn();
      } catch (...) {
        errors_->capture(std::current_exception());
      }
    }
  }
  std::string name_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> q_;
  bool stop_ = false;
  std::shared_ptr<StreamErrors> errors_ = std::make_shared<StreamErrors>();
  std::thread th_;  // last: started after the members it uses
};

class CpuDevice final : public Device {
 public:
  CpuDevice() : t0_(Clock::now()) {
    streams_.push_back(nullptr);  // compute: inline
    streams_.push_back(std::make_unique<WorkerStream>("h2d"));
    streams_.push_back(std::make_unique<WorkerStream>("d2h"));
  }
  // Waits for pending work; an exception no synchronize reported is printed, not thrown.
  ~CpuDevice() override {
    for (size_t i = 1; i < streams_.size(); ++i) {
      try {
        rethrow_if(streams_[i]->drain());
      } catch (const std::exception& e) {
        std::fprintf(stderr,
                     "mart: warning: CPU device destroyed with an unreported host-task "
                     "error: %s\n",
                     e.what());
      } catch (...) {
        std::fprintf(stderr,
                     "mart: warning: CPU device destroyed with an unreported host-task "
                     "error\n");
      }
    }
  }

  Backend backend() const override { return Backend::CPU; }
  std::string name() const override { return "cpu"; }
  uint64_t free_memory() const override {
    long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * page : 0;
  }
  uint64_t total_memory() const override {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * page : 0;
  }

  // Address space is reserved with MAP_NORESERVE: the arena may be sized generously and only the
  // pages a plan touches become resident, as on a GPU where the budget, not the block, is the
  // limit.
  void* raw_malloc(uint64_t bytes) override {
    if (bytes == 0) return nullptr;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    MART_CHECK(p != MAP_FAILED, "CPU device: cannot reserve ", format_bytes(bytes),
               " of address space for the device arena (", std::strerror(errno), ")");
    return p;
  }
  void raw_free(void* p, uint64_t bytes) override {
    if (p) munmap(p, bytes);
  }

  StreamId create_stream(const std::string& name) override {
    std::lock_guard<std::mutex> lk(mu_);
    streams_.push_back(std::make_unique<WorkerStream>(name));
    return static_cast<StreamId>(streams_.size() - 1);
  }

  void memcpy_async(void* dst, const void* src, size_t n, CopyKind, StreamId s) override {
    run(s, [dst, src, n] { std::memcpy(dst, src, n); });
  }
  void memset_async(void* dst, int value, size_t n, StreamId s) override {
    run(s, [dst, value, n] { std::memset(dst, value, n); });
  }
  void host_task(StreamId s, std::function<void()> fn) override { run(s, std::move(fn)); }

  Event record(StreamId s) override {
    auto ev = std::make_shared<CpuEvent>();
    if (s == kComputeStream) {
      ev->complete();
      return ev;
    }
    ev->errors = stream(s)->errors();
    stream(s)->push([ev] {
      ev->error_before = ev->errors->pending();  // set before `done`, read after wait()
      ev->complete();
    });
    return ev;
  }
  void wait(StreamId s, const Event& e) override {
    auto ev = cast(e);
    if (s == kComputeStream)
      ev->wait();  // inline stream: the host itself waits
    else
      stream(s)->push([ev] { ev->wait(); });
  }
  void synchronize(const Event& e) override {
    auto ev = cast(e);
    ev->wait();
    // Only an exception thrown before the event is this event's to report (the first pending one
    // is: later ones never replace it); one thrown after it waits for a later synchronize.
    if (ev->error_before) rethrow_if(ev->errors->take());
  }
  bool query(const Event& e) override {
    auto ev = cast(e);
    std::lock_guard<std::mutex> lk(ev->mu);
    return ev->done;
  }
  void synchronize_stream(StreamId s) override {
    if (s != kComputeStream) rethrow_if(stream(s)->drain());
  }
  // Drains every stream, then reports the first pending exception in stream order (the others'
  // are cleared with it: one synchronize, one report).
  void synchronize() override {
    std::exception_ptr first;
    for (size_t i = 1; i < n_streams(); ++i) {
      std::exception_ptr e = stream(static_cast<StreamId>(i))->drain();
      if (!first) first = std::move(e);
    }
    rethrow_if(first);
  }
  double elapsed_s(const Event& a, const Event& b) override {
    auto ea = cast(a), eb = cast(b);
    MART_CHECK(query(a) && query(b), "elapsed_s: both events must have completed");
    return std::chrono::duration<double>(eb->at - ea->at).count();
  }
  double timestamp_s(const Event& e) override {
    auto ev = cast(e);
    MART_CHECK(query(e), "timestamp_s: event has not completed");
    return std::chrono::duration<double>(ev->at - t0_).count();
  }
  void* native_stream(StreamId) override { return nullptr; }

 private:
  static std::shared_ptr<CpuEvent> cast(const Event& e) {
    MART_CHECK(e != nullptr, "null event");
    auto ev = std::dynamic_pointer_cast<CpuEvent>(e);
    MART_CHECK(ev != nullptr, "event from another backend passed to the CPU device");
    return ev;
  }
  WorkerStream* stream(StreamId s) {
    std::lock_guard<std::mutex> lk(mu_);
    MART_CHECK(s > 0 && static_cast<size_t>(s) < streams_.size(), "unknown stream id ", s);
    return streams_[s].get();
  }
  size_t n_streams() {
    std::lock_guard<std::mutex> lk(mu_);
    return streams_.size();
  }
  void run(StreamId s, std::function<void()> fn) {
    if (s == kComputeStream)
      fn();
    else
      stream(s)->push(std::move(fn));
  }

  Clock::time_point t0_;
  std::mutex mu_;  // guards streams_ growth
  std::vector<std::unique_ptr<WorkerStream>> streams_;
};

}  // namespace

std::unique_ptr<Device> make_cpu_device() {
  return std::make_unique<CpuDevice>();
}

const char* backend_name(Backend b) {
  return b == Backend::CPU ? "cpu" : "cuda";
}

// The CUDA device comes from libmart_cuda.so, loaded on first use (device/cuda_backend.h).
std::unique_ptr<Device> make_cuda_device(int ordinal) {
  return require_cuda_backend("the CUDA device").make_device(ordinal);
}
std::string cuda_unavailable_reason() {
  const CudaBackend* b = cuda_backend();
  return b ? b->unavailable_reason() : cuda_backend_error();
}

std::unique_ptr<Device> make_device(const std::string& backend) {
  if (backend == "cpu") return make_cpu_device();
  if (backend == "cuda") return make_cuda_device(0);
  MART_CHECK(backend == "auto", "unknown backend '", backend, "' (expected cpu, cuda or auto)");
  if (cuda_unavailable_reason().empty()) return make_cuda_device(0);
  return make_cpu_device();
}

}  // namespace mart
