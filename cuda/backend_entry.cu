// libmart_cuda.so's one exported symbol: the CudaBackend (device/cuda_backend.h) that the rest of
// MART reaches CUDA through. Each function forwards to the implementation in its cuda/ file.
#include <cuda_runtime.h>

#include <cstdio>
#include <string>

#include "common/error.h"
#include "cuda/act_convert.h"
#include "cuda/codec_cuda.h"
#include "cuda/cuda_device.h"
#include "cuda/cuda_ops.h"
#include "device/cuda_backend.h"

namespace mart::cuda {
namespace {

cudaStream_t as_stream(void* s) {
  return static_cast<cudaStream_t>(s);
}

// The CUDA error as "name: text"; clears it so later calls do not report it.
std::string take_error(cudaError_t e) {
  cudaGetLastError();
  return str(cudaGetErrorName(e), ": ", cudaGetErrorString(e));
}

class BackendImpl final : public CudaBackend {
 public:
  int version() const override { return kCudaBackendVersion; }

  std::string unavailable_reason() const override { return cuda::unavailable_reason(); }
  std::unique_ptr<Device> make_device(int ordinal) const override {
    return cuda::make_device(ordinal);
  }
  std::unique_ptr<Ops> make_ops(Device& dev) const override { return make_cuda_ops(dev); }

  int device_count(std::string* why) const override {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e == cudaSuccess) return count;
    if (why) *why = take_error(e);
    return 0;
  }
  std::string host_register(void* p, size_t n) const override {
    const cudaError_t e = cudaHostRegister(p, n, cudaHostRegisterPortable);
    return e == cudaSuccess ? std::string() : take_error(e);
  }
  void host_unregister(void* p) const override {
    if (cudaHostUnregister(p) != cudaSuccess) cudaGetLastError();
  }

  int host_numa_node(int device) const override {
#if CUDART_VERSION >= 12020
    // The driver knows the nearest node even where PCI locality is missing (e.g. Grace-Hopper).
    int id = -1;
    if (cudaDeviceGetAttribute(&id, cudaDevAttrHostNumaId, device) == cudaSuccess) return id;
    cudaGetLastError();
#endif
    return -1;
  }
  std::string pci_bus_id(int device) const override {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) {
      cudaGetLastError();
      return "";
    }
    char id[32];
    std::snprintf(id, sizeof id, "%04x:%02x:%02x.0", prop.pciDomainID, prop.pciBusID,
                  prop.pciDeviceID);
    return id;
  }

  size_t codec_encode_workspace_bytes(size_t n) const override {
    return codec::cuda::encode_workspace_bytes(n);
  }
  void codec_encode(const void* d_x, bool bf16, size_t n, float eb, uint8_t* d_out,
                    uint64_t* d_encoded_bytes, void* d_workspace, size_t workspace_bytes,
                    void* stream) const override {
    if (bf16)
      codec::cuda::encode_bf16(static_cast<const uint16_t*>(d_x), n, eb, d_out, d_encoded_bytes,
                               d_workspace, workspace_bytes, as_stream(stream));
    else
      codec::cuda::encode(static_cast<const float*>(d_x), n, eb, d_out, d_encoded_bytes,
                          d_workspace, workspace_bytes, as_stream(stream));
  }
  size_t codec_read_encoded_bytes(const uint64_t* d_encoded_bytes, void* stream) const override {
    return codec::cuda::read_encoded_bytes(d_encoded_bytes, as_stream(stream));
  }
  void codec_decode(const uint8_t* d_in, size_t n, float* d_x, int* d_status,
                    void* stream) const override {
    codec::cuda::decode(d_in, n, d_x, d_status, as_stream(stream));
  }
  void codec_check_decode_status(const int* d_status, void* stream) const override {
    codec::cuda::check_decode_status(d_status, as_stream(stream));
  }
  void f32_to_bf16(const float* d_src, uint16_t* d_dst, size_t n, void* stream) const override {
    detail::act_f32_to_bf16(d_src, d_dst, n, as_stream(stream));
  }
};

}  // namespace
}  // namespace mart::cuda

// The only symbol libmart_cuda.so exports (cuda/exports.map).
extern "C" __attribute__((visibility("default"))) const mart::CudaBackend* mart_cuda_backend_v1() {
  static const mart::cuda::BackendImpl backend;
  return &backend;
}
