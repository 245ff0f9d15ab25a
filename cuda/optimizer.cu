// AdamW and the squared-norm reduction used for gradient clipping.
//
// AdamW is one flat elementwise pass (multi-tensor friendly: the executor can hand it any
// contiguous run of parameters at once). fp32 master/m/v, bf16 param and grad. The fp32 arithmetic
// is spelled out with round-to-nearest intrinsics in exactly the CPU reference's order
// (cpu_kernels.h), so master, m and v match the CPU float path bitwise; nvcc would otherwise
// contract some products into FMAs.
// sumsq: two stages with a grid that depends only on n, fp64 partials, no atomics: deterministic.
#include <cmath>

#include "common/error.h"
#include "cuda/cuda_ops_impl.cuh"

namespace mart::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kMaxPartials = 1024;

struct AdamArgs {
  float lr, b1, b2, one_b1, one_b2, eps, wd, bc1, bc2, gscale;
  uint64_t seed;
};

__device__ __forceinline__ void load8f(const float* p, float (&f)[8]) {
  const float4 a = reinterpret_cast<const float4*>(p)[0];
  const float4 b = reinterpret_cast<const float4*>(p)[1];
  f[0] = a.x, f[1] = a.y, f[2] = a.z, f[3] = a.w, f[4] = b.x, f[5] = b.y, f[6] = b.z, f[7] = b.w;
}
__device__ __forceinline__ void store8f(float* p, const float (&f)[8]) {
  reinterpret_cast<float4*>(p)[0] = make_float4(f[0], f[1], f[2], f[3]);
  reinterpret_cast<float4*>(p)[1] = make_float4(f[4], f[5], f[6], f[7]);
}

// param [n] bf16; master [n] fp32 or null (then param itself is the weight); grad [n] bf16;
// m, v [n] fp32. One thread per 8 elements; kVec: all pointers 16-byte aligned and n % 8 == 0.
template <bool kVec>
__global__ void adamw_kernel(bf16* param, float* master, const bf16* grad, float* m, float* v,
                             size_t n, AdamArgs a) {
  const size_t i0 = (blockIdx.x * size_t(blockDim.x) + threadIdx.x) * kPack;
  if (i0 >= n) return;
  float g[8], mm[8], vv[8], p[8];
  load8b<kVec>(grad, long(i0), long(n), g);
  if (kVec) {
    load8f(m + i0, mm);
    load8f(v + i0, vv);
    if (master) load8f(master + i0, p);
  } else {
#pragma unroll
    for (int k = 0; k < 8; k++) {
      const bool in = i0 + k < n;
      mm[k] = in ? m[i0 + k] : 0.0f;
      vv[k] = in ? v[i0 + k] : 0.0f;
      if (master) p[k] = in ? master[i0 + k] : 0.0f;
    }
  }
  if (!master) load8b<kVec>(param, long(i0), long(n), p);
#pragma unroll
  for (int k = 0; k < 8; k++) {
    const float gk = __fmul_rn(g[k], a.gscale);
    mm[k] = __fadd_rn(__fmul_rn(a.b1, mm[k]), __fmul_rn(a.one_b1, gk));
    vv[k] = __fadd_rn(__fmul_rn(a.b2, vv[k]), __fmul_rn(a.one_b2, __fmul_rn(gk, gk)));
    const float mhat = __fdiv_rn(mm[k], a.bc1);
    const float vhat = __fdiv_rn(vv[k], a.bc2);
    const float upd =
        __fadd_rn(__fdiv_rn(mhat, __fadd_rn(__fsqrt_rn(vhat), a.eps)), __fmul_rn(a.wd, p[k]));
    p[k] = __fsub_rn(p[k], __fmul_rn(a.lr, upd));
  }
  if (kVec) {
    store8f(m + i0, mm);
    store8f(v + i0, vv);
    if (master) store8f(master + i0, p);
  } else {
#pragma unroll
    for (int k = 0; k < 8; k++)
      if (i0 + k < n) {
        m[i0 + k] = mm[k];
        v[i0 + k] = vv[k];
        if (master) master[i0 + k] = p[k];
      }
  }
  // The bf16 copy of the weight: nearest-even, or stochastic keyed by (seed, element index).
  if (a.seed == 0) {
    store8b<kVec>(param, long(i0), long(n), p);
  } else {
#pragma unroll
    for (int k = 0; k < 8; k++)
      if (kVec || i0 + k < n) param[i0 + k] = bf16_stochastic(p[k], hash32(a.seed, i0 + k));
  }
}

// Stage 1: partial[block] = sum of x^2 over a grid-stride range (fp64). grid = G (a function of n).
template <bool kVec>
__global__ void sumsq_partial_kernel(double* partial, const bf16* x, size_t n) {
  __shared__ double red[32];
  double s = 0.0;
  const size_t stride = size_t(gridDim.x) * blockDim.x * kPack;
  for (size_t i = (blockIdx.x * size_t(blockDim.x) + threadIdx.x) * kPack; i < n; i += stride) {
    float f[8];
    load8b<kVec>(x, long(i), long(n), f);
#pragma unroll
    for (int k = 0; k < 8; k++) s += double(f[k]) * f[k];
  }
  s = block_sum(s, red);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

// Stage 2, one block of kMaxPartials threads: *out = sum of the G partials.
__global__ void sumsq_final_kernel(float* out, const double* partial, int G) {
  __shared__ double red[32];
  double s = threadIdx.x < G ? partial[threadIdx.x] : 0.0;
  s = block_sum(s, red);
  if (threadIdx.x == 0) *out = float(s);
}

}  // namespace

void CudaOps::adamw_update(void* param, float* master, const void* grad, float* m, float* v,
                           size_t n, const AdamWHyper& h, uint64_t seed) {
  MART_CHECK(h.step >= 1, "adamw_update: step=", h.step, " must be >= 1 (it is 1-based)");
  if (n == 0) return;
  AdamArgs a;
  a.lr = h.lr;
  a.b1 = h.beta1;
  a.b2 = h.beta2;
  a.one_b1 = 1.0f - h.beta1;  // float, as the CPU reference computes it
  a.one_b2 = 1.0f - h.beta2;
  a.eps = h.eps;
  a.wd = h.weight_decay;
  a.bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(h.beta1), h.step));
  a.bc2 = static_cast<float>(1.0 - std::pow(static_cast<double>(h.beta2), h.step));
  a.gscale = h.grad_scale;
  a.seed = seed;
  auto* p = static_cast<bf16*>(param);
  auto* g = static_cast<const bf16*>(grad);
  const unsigned grid = unsigned(ceil_div(ceil_div(n, kPack), kThreads));
  if (n % kPack == 0 && all_aligned16(p, g, m, v) && (master == nullptr || aligned16(master)))
    adamw_kernel<true><<<grid, kThreads, 0, stream_>>>(p, master, g, m, v, n, a);
  else
    adamw_kernel<false><<<grid, kThreads, 0, stream_>>>(p, master, g, m, v, n, a);
  MART_CUDA_CHECK_LAUNCH("adamw");
}

void CudaOps::sumsq(float* out, const void* x, size_t n) {
  auto* partial = static_cast<double*>(small_);
  if (n == 0) {
    MART_CUDA_CHECK(cudaMemsetAsync(out, 0, sizeof(float), stream_));
    return;
  }
  // Enough blocks to fill the GPU for large n, each thread at least 4 packs; never more than
  // kMaxPartials. Depends on n only, so the summation order is fixed for a given n.
  const size_t packs = ceil_div(n, kPack);
  const int G = int(std::min<size_t>(kMaxPartials, std::max<size_t>(1, packs / (kThreads * 4))));
  auto* xb = static_cast<const bf16*>(x);
  if (n % kPack == 0 && aligned16(xb))
    sumsq_partial_kernel<true><<<G, kThreads, 0, stream_>>>(partial, xb, n);
  else
    sumsq_partial_kernel<false><<<G, kThreads, 0, stream_>>>(partial, xb, n);
  MART_CUDA_CHECK_LAUNCH("sumsq_partial");
  sumsq_final_kernel<<<1, kMaxPartials, 0, stream_>>>(out, partial, G);
  MART_CUDA_CHECK_LAUNCH("sumsq_final");
}

}  // namespace mart::cuda
