// The CUDA backend's device: cudaStream_t queues, cudaEvent_t events with timing, cudaMalloc'd
// blocks for the arena. The twin of device/cpu_device.cpp (same contract, device.h).
//
// Streams are non-blocking (no implicit ordering with the legacy default stream, which libraries
// might use). Priorities: compute runs at normal priority; the two copy streams run at the highest
// so that a prefetch or offload queued behind a long compute phase is not starved of the SMs its
// host functions and small kernels need. Streams from create_stream() are normal priority.
#include <cuda_runtime.h>

#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/error.h"
#include "common/units.h"
#include "cuda/cuda_check.h"
#include "cuda/cuda_device.h"
#include "device/device.h"

namespace mart {
namespace {

// A kernel that does nothing: cudaFuncGetAttributes on it tells whether this binary carries code
// the GPU can run (sm_90a SASS or compute_90 PTX), without launching anything.
__global__ void probe_kernel() {}

struct CudaEvent : EventImpl {
  cudaEvent_t ev = nullptr;
  int device = 0;
  ~CudaEvent() override {
    if (ev) MART_CUDA_CHECK_WARN(cudaEventDestroy(ev));
  }
};

// Makes `ordinal` the calling thread's current device for the scope (the runtime keeps the current
// device per host thread, and copy workers may call in from other threads).
class DeviceGuard {
 public:
  explicit DeviceGuard(int ordinal) {
    int cur = -1;
    MART_CUDA_CHECK(cudaGetDevice(&cur));
    if (cur != ordinal) MART_CUDA_CHECK(cudaSetDevice(ordinal));
  }
};

// State shared with host tasks: the first exception a host task threw, reported on the next
// synchronize (a CUDA host function must not throw across the driver).
struct HostTaskErrors {
  std::mutex mu;
  std::string first;
  void record(const std::string& what) {
    std::lock_guard<std::mutex> lk(mu);
    if (first.empty()) first = what;
  }
  void rethrow() {
    std::lock_guard<std::mutex> lk(mu);
    if (!first.empty()) {
      std::string msg = "a host_task failed: " + first;
      first.clear();
      MART_FAIL(msg);
    }
  }
};

struct HostTaskPayload {
  std::function<void()> fn;
  std::shared_ptr<HostTaskErrors> errors;
};

void CUDART_CB run_host_task(void* user) {
  std::unique_ptr<HostTaskPayload> p(static_cast<HostTaskPayload*>(user));
  try {
    p->fn();
  } catch (const std::exception& e) {
    p->errors->record(e.what());
  } catch (...) {
    p->errors->record("unknown exception");
  }
}

cudaMemcpyKind to_cuda(CopyKind k) {
  switch (k) {
    case CopyKind::HostToDevice:
      return cudaMemcpyHostToDevice;
    case CopyKind::DeviceToHost:
      return cudaMemcpyDeviceToHost;
    case CopyKind::DeviceToDevice:
      return cudaMemcpyDeviceToDevice;
    case CopyKind::HostToHost:
      return cudaMemcpyHostToHost;
  }
  return cudaMemcpyDefault;
}

class CudaDevice final : public Device {
 public:
  explicit CudaDevice(int ordinal)
      : ordinal_(ordinal), errors_(std::make_shared<HostTaskErrors>()) {
    const std::string why = cuda::unavailable_reason();
    MART_CHECK(why.empty(), "CUDA backend requested but unusable: ", why);
    int count = 0;
    MART_CUDA_CHECK(cudaGetDeviceCount(&count));
    MART_CHECK(ordinal >= 0 && ordinal < count, "CUDA device ordinal ", ordinal,
               " is out of range: ", count, " device(s) visible (check CUDA_VISIBLE_DEVICES)");
    MART_CUDA_CHECK(cudaSetDevice(ordinal));
    cudaDeviceProp prop{};
    MART_CUDA_CHECK(cudaGetDeviceProperties(&prop, ordinal));
    name_ = str("cuda:", ordinal, " (", prop.name, ", sm_", prop.major, prop.minor, ", ",
                prop.multiProcessorCount, " SMs)");

    int least = 0, greatest = 0;  // numerically: least = 0 (normal), greatest < 0 (high)
    MART_CUDA_CHECK(cudaDeviceGetStreamPriorityRange(&least, &greatest));
    add_stream("compute", least);
    add_stream("h2d", greatest);
    add_stream("d2h", greatest);

    // Reference point for timestamp_s: recorded and completed before anything else runs.
    MART_CUDA_CHECK(cudaEventCreate(&t0_));
    MART_CUDA_CHECK(cudaEventRecord(t0_, streams_[kComputeStream]));
    MART_CUDA_CHECK(cudaEventSynchronize(t0_));
  }

  ~CudaDevice() override {
    cudaSetDevice(ordinal_);
    for (cudaStream_t s : streams_) MART_CUDA_CHECK_WARN(cudaStreamSynchronize(s));
    for (cudaStream_t s : streams_) MART_CUDA_CHECK_WARN(cudaStreamDestroy(s));
    if (t0_) MART_CUDA_CHECK_WARN(cudaEventDestroy(t0_));
  }

  Backend backend() const override { return Backend::CUDA; }
  std::string name() const override { return name_; }

  uint64_t free_memory() const override {
    DeviceGuard g(ordinal_);
    size_t free = 0, total = 0;
    MART_CUDA_CHECK(cudaMemGetInfo(&free, &total));
    return free;
  }
  uint64_t total_memory() const override {
    DeviceGuard g(ordinal_);
    size_t free = 0, total = 0;
    MART_CUDA_CHECK(cudaMemGetInfo(&free, &total));
    return total;
  }

  // Plain cudaMalloc (not managed memory): the arena takes one block and sub-allocates.
  void* raw_malloc(uint64_t bytes) override {
    if (bytes == 0) return nullptr;
    DeviceGuard g(ordinal_);
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
      cudaGetLastError();  // clear the (non-sticky) allocation error
      size_t free = 0, total = 0;
      cudaMemGetInfo(&free, &total);
      MART_FAIL(
          "CUDA device ", name_, ": cudaMalloc of ", format_bytes(bytes), " failed (",
          cudaGetErrorName(e), ": ", cudaGetErrorString(e), "); free ", format_bytes(free), " of ",
          format_bytes(total),
          ". Hint: lower memory.device_capacity or train.micro_batch, or use memory.mode: auto "
          "to offload; check nvidia-smi for other processes holding GPU memory");
    }
    return p;
  }
  void raw_free(void* p, uint64_t) override {
    if (!p) return;
    cudaSetDevice(ordinal_);
    MART_CUDA_CHECK_WARN(cudaFree(p));  // called from destructors: never throws
  }

  StreamId create_stream(const std::string& name) override {
    DeviceGuard g(ordinal_);
    int least = 0, greatest = 0;
    MART_CUDA_CHECK(cudaDeviceGetStreamPriorityRange(&least, &greatest));
    return add_stream(name, least);
  }

  void memcpy_async(void* dst, const void* src, size_t n, CopyKind kind, StreamId s) override {
    if (n == 0) return;
    DeviceGuard g(ordinal_);
    MART_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, to_cuda(kind), stream(s)));
  }
  void memset_async(void* dst, int value, size_t n, StreamId s) override {
    if (n == 0) return;
    DeviceGuard g(ordinal_);
    MART_CUDA_CHECK(cudaMemsetAsync(dst, value, n, stream(s)));
  }
  void host_task(StreamId s, std::function<void()> fn) override {
    DeviceGuard g(ordinal_);
    auto* payload = new HostTaskPayload{std::move(fn), errors_};
    const cudaError_t e = cudaLaunchHostFunc(stream(s), run_host_task, payload);
    if (e != cudaSuccess) {
      delete payload;
      cuda_detail::cuda_fail(__FILE__, __LINE__, "cudaLaunchHostFunc(stream, run_host_task, fn)",
                             e);
    }
  }

  Event record(StreamId s) override {
    DeviceGuard g(ordinal_);
    auto ev = std::make_shared<CudaEvent>();
    ev->device = ordinal_;
    MART_CUDA_CHECK(cudaEventCreate(&ev->ev));  // timing enabled: elapsed_s/timestamp_s need it
    MART_CUDA_CHECK(cudaEventRecord(ev->ev, stream(s)));
    return ev;
  }
  void wait(StreamId s, const Event& e) override {
    DeviceGuard g(ordinal_);
    MART_CUDA_CHECK(cudaStreamWaitEvent(stream(s), cast(e)->ev, 0));
  }
  void synchronize(const Event& e) override {
    DeviceGuard g(ordinal_);
    MART_CUDA_CHECK(cudaEventSynchronize(cast(e)->ev));
    errors_->rethrow();
  }
  bool query(const Event& e) override {
    DeviceGuard g(ordinal_);
    const cudaError_t r = cudaEventQuery(cast(e)->ev);
    if (r == cudaErrorNotReady) return false;
    MART_CUDA_CHECK(r);
    return true;
  }
  void synchronize_stream(StreamId s) override {
    DeviceGuard g(ordinal_);
    MART_CUDA_CHECK(cudaStreamSynchronize(stream(s)));
    errors_->rethrow();
  }
  void synchronize() override {
    DeviceGuard g(ordinal_);
    std::deque<cudaStream_t> all;
    {
      std::lock_guard<std::mutex> lk(mu_);
      all = streams_;
    }
    for (cudaStream_t s : all) MART_CUDA_CHECK(cudaStreamSynchronize(s));
    errors_->rethrow();
  }
  double elapsed_s(const Event& a, const Event& b) override {
    MART_CHECK(query(a) && query(b), "elapsed_s: both events must have completed");
    float ms = 0.0f;
    MART_CUDA_CHECK(cudaEventElapsedTime(&ms, cast(a)->ev, cast(b)->ev));
    return ms * 1e-3;
  }
  double timestamp_s(const Event& e) override {
    MART_CHECK(query(e), "timestamp_s: event has not completed");
    float ms = 0.0f;
    MART_CUDA_CHECK(cudaEventElapsedTime(&ms, t0_, cast(e)->ev));
    return ms * 1e-3;
  }
  void* native_stream(StreamId s) override { return static_cast<void*>(stream(s)); }

 private:
  static std::shared_ptr<CudaEvent> cast(const Event& e) {
    MART_CHECK(e != nullptr, "null event");
    auto ev = std::dynamic_pointer_cast<CudaEvent>(e);
    MART_CHECK(ev != nullptr, "event from another backend passed to the CUDA device");
    return ev;
  }
  StreamId add_stream(const std::string& name, int priority) {
    cudaStream_t s = nullptr;
    MART_CUDA_CHECK(cudaStreamCreateWithPriority(&s, cudaStreamNonBlocking, priority));
    std::lock_guard<std::mutex> lk(mu_);
    streams_.push_back(s);
    names_.push_back(name);
    return static_cast<StreamId>(streams_.size() - 1);
  }
  cudaStream_t stream(StreamId s) {
    std::lock_guard<std::mutex> lk(mu_);
    MART_CHECK(s >= 0 && static_cast<size_t>(s) < streams_.size(), "unknown stream id ", s,
               " (device has ", streams_.size(), " streams)");
    return streams_[s];
  }

  int ordinal_;
  std::string name_;
  cudaEvent_t t0_ = nullptr;
  std::mutex mu_;                     // guards streams_ growth (create_stream from any thread)
  std::deque<cudaStream_t> streams_;  // deque: references stay valid as it grows
  std::deque<std::string> names_;
  std::shared_ptr<HostTaskErrors> errors_;
};

}  // namespace

namespace cuda {

std::string unavailable_reason() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return str("no CUDA device: cudaGetDeviceCount returned ", static_cast<int>(e), " (",
               cudaGetErrorName(e), ": ", cudaGetErrorString(e), ")");
  }
  if (count == 0) return "no CUDA device: cudaGetDeviceCount returned 0";
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) dev = 0;
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, dev) != cudaSuccess) {
    cudaGetLastError();
    return "no CUDA device: cudaGetDeviceProperties failed";
  }
  cudaFuncAttributes attr{};
  const cudaError_t fe = cudaFuncGetAttributes(&attr, probe_kernel);
  if (fe != cudaSuccess) {
    cudaGetLastError();
    return str("CUDA device ", prop.name, " (sm_", prop.major, prop.minor,
               ") cannot run this build's kernels (", cudaGetErrorName(fe),
               "): rebuild with -DCMAKE_CUDA_ARCHITECTURES=", prop.major, prop.minor);
  }
  if (prop.major < 8) {
    return str("CUDA device ", prop.name, " is sm_", prop.major, prop.minor,
               "; MART's CUDA backend needs bf16 tensor cores (sm_80 or newer)");
  }
  return "";
}

std::unique_ptr<Device> make_device(int ordinal) {
  return std::make_unique<CudaDevice>(ordinal);
}

}  // namespace cuda
}  // namespace mart
