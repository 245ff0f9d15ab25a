// Device and stream abstraction. A Device owns three ordered queues ("streams") -- compute, and
// one copy stream per direction -- plus events that order them and time them. The CPU backend is
// a real device in this sense: its copy streams are worker threads, so offload, prefetch and swap
// overlap with compute exactly as they do on a GPU, and the same code and tests drive both.
//
//   CPU:  compute runs inline on the calling thread (kernels use OpenMP); copy streams are FIFO
//         worker threads; events complete when the queue reaches them and record a timestamp.
//   CUDA: cudaStream_t / cudaEvent_t (cuda/cuda_device.cu, in libmart_cuda.so: cuda_backend.h).
//
// Device memory is not allocated here per tensor: raw_malloc hands one block to the DeviceArena
// (memory/device_arena.h), which owns every device byte MART uses.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace mart {

enum class Backend { CPU, CUDA };
const char* backend_name(Backend b);

// Stream ids: the three fixed streams; create_stream() adds more.
using StreamId = int;
constexpr StreamId kComputeStream = 0;
constexpr StreamId kH2DStream = 1;  // host-to-device copies (chunk prefetch, swap-in)
constexpr StreamId kD2HStream = 2;  // device-to-host copies (grad offload, swap-out)

enum class CopyKind { HostToDevice, DeviceToHost, DeviceToDevice, HostToHost };

// An event: a point in one stream's order. Completed once everything enqueued on that stream
// before it has run. Opaque; backends subclass it.
class EventImpl {
 public:
  virtual ~EventImpl() = default;
};
using Event = std::shared_ptr<EventImpl>;

class Device {
 public:
  virtual ~Device() = default;
  virtual Backend backend() const = 0;
  virtual std::string name() const = 0;
  // Bytes the device can still give (CUDA: cudaMemGetInfo free; CPU: physical memory available).
  virtual uint64_t free_memory() const = 0;
  virtual uint64_t total_memory() const = 0;

  // One block for the arena. Throws mart::Error naming the size and what is free on failure.
  virtual void* raw_malloc(uint64_t bytes) = 0;
  virtual void raw_free(void* p, uint64_t bytes) = 0;

  virtual StreamId create_stream(const std::string& name) = 0;
  // Enqueue a copy of n bytes on stream s. Host pointers should be pinned for true asynchrony.
  virtual void memcpy_async(void* dst, const void* src, size_t n, CopyKind kind, StreamId s) = 0;
  virtual void memset_async(void* dst, int value, size_t n, StreamId s) = 0;
  // Enqueue a host function in stream order (CPU: on the stream's worker; CUDA:
  // cudaLaunchHostFunc). It must not call back into the device.
  // Errors: an exception thrown by fn is not lost and does not terminate the process. It is
  // captured and rethrown by the next synchronize that covers the stream (CPU: the original
  // exception object; CUDA: a mart::Error "a host_task failed: <its message>"):
  // synchronize_stream(s), synchronize(), or synchronize(e) for an event recorded on s -- as CUDA
  // reports asynchronous errors at synchronization. It is reported once (the first one, if several
  // threw before a synchronize); work queued after it still runs, and the stream stays usable. On
  // the compute stream fn runs inline on the CPU device, so it throws straight to the caller.
  // query() never throws. A device destroyed with an unreported error prints it (destructors do not
  // throw).
  virtual void host_task(StreamId s, std::function<void()> fn) = 0;

  virtual Event record(StreamId s) = 0;               // event after all work now queued on s
  virtual void wait(StreamId s, const Event& e) = 0;  // later work on s waits for e
  virtual void synchronize(const Event& e) = 0;       // host waits for e
  virtual bool query(const Event& e) = 0;             // true when e has completed
  virtual void synchronize_stream(StreamId s) = 0;
  virtual void synchronize() = 0;  // all streams
  // Seconds between two completed events (each must be complete).
  virtual double elapsed_s(const Event& start, const Event& end) = 0;
  // Seconds since the device was created at which the event completed (for overlap tests/traces).
  virtual double timestamp_s(const Event& e) = 0;

  // Backend-native handle of a stream (cudaStream_t on CUDA, nullptr on CPU), for kernels.
  virtual void* native_stream(StreamId s) = 0;
};

std::unique_ptr<Device> make_cpu_device();
// Throws mart::Error when MART was built without CUDA, the CUDA backend library cannot be loaded
// (device/cuda_backend.h) or no CUDA device is usable; the message says which (e.g. "no CUDA
// device: cudaGetDeviceCount returned 0").
std::unique_ptr<Device> make_cuda_device(int ordinal = 0);
// "cpu", "cuda", or "auto" (CUDA when a device is present, else CPU).
std::unique_ptr<Device> make_device(const std::string& backend);
// Why CUDA is unavailable, or "" when it is available: the backend library's load error, or the
// backend's own reason. Used by "auto" and by GPU tests to skip with a reason.
std::string cuda_unavailable_reason();

}  // namespace mart
