// CUDA helper of the activation manager (memory/activation_manager.cpp); see act_convert.h.
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "common/error.h"
#include "cuda/act_convert.h"

namespace mart::detail {
namespace {

__global__ void f32_to_bf16_kernel(const float* __restrict__ src, uint16_t* __restrict__ dst,
                                   size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    // Round to nearest even (NaN stays NaN): the rounding the error-bound proof assumes.
    const __nv_bfloat16 h = __float2bfloat16_rn(src[i]);
    dst[i] = *reinterpret_cast<const uint16_t*>(&h);
  }
}

}  // namespace

void act_f32_to_bf16(const float* src, uint16_t* dst, size_t n, cudaStream_t stream) {
  if (n == 0) return;
  constexpr int kThreads = 256;
  const size_t blocks = (n + kThreads - 1) / kThreads;
  const unsigned grid = static_cast<unsigned>(blocks < 65535 * 8 ? blocks : 65535 * 8);
  f32_to_bf16_kernel<<<grid, kThreads, 0, stream>>>(src, dst, n);
  const cudaError_t err = cudaGetLastError();
  MART_CHECK(err == cudaSuccess, "activation compress: bf16 conversion kernel failed to launch: ",
             cudaGetErrorString(err));
}

}  // namespace mart::detail
