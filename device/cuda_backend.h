// The CUDA backend, loaded on demand. Everything that touches CUDA lives in cuda/ and is built
// into one shared library, libmart_cuda.so; only it links cudart, cuBLASLt, cuBLAS and cuDNN.
// The rest of MART reaches it through the CudaBackend interface below, which the loader
// (device/cuda_backend_loader.cpp) obtains with dlopen the first time a CUDA service is asked
// for. So a process that never uses CUDA (`mart plan`, `mart prepare-data`, the CPU backend)
// never loads the CUDA libraries, and one binary serves machines with and without a GPU.
//
// Where the loader looks, in order (the first library that loads wins):
//   1. $MART_CUDA_LIBRARY, a full path, when set (then nothing else is tried);
//   2. next to the shared object holding the loader (libmart.so in a Python process), unless
//      that is the executable; 3. next to the running executable, then in its parent directory
//      (tests: build/tests/<name>/..); 4. the plain soname (LD_LIBRARY_PATH, ld.so.cache).
// A library that does not load, lacks the entry point or reports another interface version is
// not used; cuda_backend_error() then names every path tried and why each failed (dlerror()).
//
// Thread safety: the loader runs once (std::call_once); the backend object it returns is
// immutable and its functions may be called from any thread. The library stays loaded until
// the process exits (never dlclose'd: its objects may outlive any owner).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "device/device.h"

namespace mart {

class Ops;  // kernels/ops.h; the device module only passes the pointer through

// The interface version libmart_cuda.so must implement. Bump it whenever CudaBackend changes.
constexpr int kCudaBackendVersion = 1;
// The C entry point libmart_cuda.so exports (the only symbol it exports):
//   extern "C" const mart::CudaBackend* mart_cuda_backend_v1();
constexpr const char* kCudaBackendEntry = "mart_cuda_backend_v1";
constexpr const char* kCudaBackendSoname = "libmart_cuda.so";

// Streams are passed as Device::native_stream() handles (a cudaStream_t as void*). Pointers
// named d_* are device memory. Every function throws mart::Error on a CUDA failure unless it
// says otherwise.
class CudaBackend {
 public:
  virtual int version() const = 0;  // kCudaBackendVersion of the library's build

  // ---- devices and ops (device/device.h, kernels/ops.h) ----
  // "" when a CUDA device is usable, else why not (no device, too old, wrong architecture).
  virtual std::string unavailable_reason() const = 0;
  virtual std::unique_ptr<Device> make_device(int ordinal) const = 0;
  // Throws unless dev is a CUDA device made by this backend.
  virtual std::unique_ptr<Ops> make_ops(Device& dev) const = 0;

  // ---- host memory (memory/host_allocator) ----
  // Visible devices; on failure 0 with *why set to the CUDA error (never throws).
  virtual int device_count(std::string* why) const = 0;
  // Page-locks [p, p + n) for every device (cudaHostRegisterPortable). Returns "" or the error
  // (never throws; the error is cleared so later calls do not see it).
  virtual std::string host_register(void* p, size_t n) const = 0;
  virtual void host_unregister(void* p) const = 0;

  // ---- locality (memory/numa_topology) ----
  // The host NUMA node the driver reports for the device, or -1 when it does not know.
  virtual int host_numa_node(int device) const = 0;
  // The device's PCI address as sysfs spells it ("0000:3b:00.0"), or "" when unknown.
  virtual std::string pci_bus_id(int device) const = 0;

  // ---- the device activation codec (kernels/codec.h format; memory/activation_manager) ----
  virtual size_t codec_encode_workspace_bytes(size_t n) const = 0;
  // Encodes n values (fp32, or bf16 bits when bf16) at d_x; the size lands in *d_encoded_bytes.
  virtual void codec_encode(const void* d_x, bool bf16, size_t n, float eb, uint8_t* d_out,
                            uint64_t* d_encoded_bytes, void* d_workspace, size_t workspace_bytes,
                            void* stream) const = 0;
  virtual size_t codec_read_encoded_bytes(const uint64_t* d_encoded_bytes, void* stream) const = 0;
  virtual void codec_decode(const uint8_t* d_in, size_t n, float* d_x, int* d_status,
                            void* stream) const = 0;
  virtual void codec_check_decode_status(const int* d_status, void* stream) const = 0;
  // d_dst[i] = bf16 round-to-nearest-even of d_src[i], i in [0, n).
  virtual void f32_to_bf16(const float* d_src, uint16_t* d_dst, size_t n, void* stream) const = 0;

 protected:
  ~CudaBackend() = default;  // owned by the library, never deleted through this interface
};

// The backend, loading it on the first call; nullptr when it cannot be loaded.
const CudaBackend* cuda_backend();
// Why cuda_backend() is null ("" when it loaded): built without CUDA, or every path tried and
// its dlerror(). Loads on the first call, as cuda_backend() does.
std::string cuda_backend_error();
// The backend if an earlier call loaded it, else nullptr; never loads. For code that wants
// CUDA's exact answer only when CUDA is in use anyway (the planner's dry runs).
const CudaBackend* cuda_backend_if_loaded();
// cuda_backend(), or throws mart::Error "<what> needs the CUDA backend, which cannot be loaded:
// <cuda_backend_error()>".
const CudaBackend& require_cuda_backend(const char* what);

}  // namespace mart
