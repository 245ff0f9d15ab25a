// Device helpers shared by MART's CUDA kernels: bf16 <-> fp32 in 16-byte packs, deterministic warp
// and block reductions, stochastic rounding, launch arithmetic.
//
// Vector access convention: a "pack" is 8 consecutive bf16 (16 bytes, one LDG.128). A kernel gets
// kVec = true only when every pointer it touches is 16-byte aligned and the row length (or n) is a
// multiple of 8; otherwise it runs the same code with scalar, bounds-checked loads.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace mart::cuda {

using bf16 = __nv_bfloat16;
constexpr int kWarpSize = 32;
constexpr int kPack = 8;  // bf16 per 16-byte pack

__host__ __device__ constexpr size_t ceil_div(size_t a, size_t b) {
  return (a + b - 1) / b;
}
__host__ __device__ constexpr size_t round_up(size_t a, size_t b) {
  return ceil_div(a, b) * b;
}

inline bool aligned16(const void* p) {
  return (reinterpret_cast<uintptr_t>(p) & 15u) == 0;
}
template <class... P>
inline bool all_aligned16(const P*... ps) {
  return ((ps == nullptr || aligned16(ps)) && ...);
}

__device__ __forceinline__ float to_f(bf16 x) {
  return __bfloat162float(x);
}
__device__ __forceinline__ bf16 to_bf(float x) {
  return __float2bfloat16_rn(x);
}

union Pack8 {
  int4 raw;
  __nv_bfloat162 h2[4];
};

// 8 bf16 at p (16-byte aligned) -> f[0..7].
__device__ __forceinline__ void load8(const bf16* p, float (&f)[8]) {
  Pack8 u;
  u.raw = *reinterpret_cast<const int4*>(p);
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const float2 v = __bfloat1622float2(u.h2[i]);
    f[2 * i] = v.x;
    f[2 * i + 1] = v.y;
  }
}
// Streaming variant (evict-first): for data read exactly once.
__device__ __forceinline__ void load8_cs(const bf16* p, float (&f)[8]) {
  Pack8 u;
  u.raw = __ldcs(reinterpret_cast<const int4*>(p));
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const float2 v = __bfloat1622float2(u.h2[i]);
    f[2 * i] = v.x;
    f[2 * i + 1] = v.y;
  }
}
__device__ __forceinline__ void store8(bf16* p, const float (&f)[8]) {
  Pack8 u;
#pragma unroll
  for (int i = 0; i < 4; i++) u.h2[i] = __floats2bfloat162_rn(f[2 * i], f[2 * i + 1]);
  *reinterpret_cast<int4*>(p) = u.raw;
}

// Elements [c, c+8) of a row of length C; kVec: one 16-byte access (caller guarantees alignment
// and c + 8 <= C); else scalar with bounds (missing elements read as 0, are not written).
template <bool kVec>
__device__ __forceinline__ void load8b(const bf16* row, long c, long C, float (&f)[8]) {
  if constexpr (kVec) {
    load8(row + c, f);
  } else {
#pragma unroll
    for (int i = 0; i < 8; i++) f[i] = (c + i < C) ? to_f(row[c + i]) : 0.0f;
  }
}
template <bool kVec>
__device__ __forceinline__ void store8b(bf16* row, long c, long C, const float (&f)[8]) {
  if constexpr (kVec) {
    store8(row + c, f);
  } else {
#pragma unroll
    for (int i = 0; i < 8; i++)
      if (c + i < C) row[c + i] = to_bf(f[i]);
  }
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Sum over the block, returned to every thread. blockDim.x a multiple of 32, at most 1024. The
// combination order is fixed (butterfly within warps, then warp 0 over the warp sums), so the
// result is deterministic. `smem` holds 32 values; the function syncs before reusing it.
template <class T>
__device__ __forceinline__ T block_sum(T v, T* smem) {
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int nwarps = blockDim.x / kWarpSize;
  v = warp_sum(v);
  __syncthreads();  // smem may still be read by a previous call
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  T r = lane < nwarps ? smem[lane] : T(0);
  r = warp_sum(r);
  return r;
}
__device__ __forceinline__ float block_max(float v, float* smem) {
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int nwarps = blockDim.x / kWarpSize;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  float r = lane < nwarps ? smem[lane] : -INFINITY;
  return warp_max(r);
}

// A 32-bit hash of (seed, index): SplitMix64 finaliser. Stateless, so stochastic rounding depends
// only on which element is rounded, never on the grid.
__device__ __forceinline__ uint32_t hash32(uint64_t seed, uint64_t idx) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (idx + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<uint32_t>(z);
}

// fp32 -> bf16 rounding up in magnitude with probability (dropped bits) / 2^16: E[result] = x.
__device__ __forceinline__ bf16 bf16_stochastic(float x, uint32_t rnd) {
  const uint32_t u = __float_as_uint(x);
  if ((u & 0x7f800000u) == 0x7f800000u) return __float2bfloat16_rn(x);  // inf / nan unchanged
  const uint32_t t = u + (rnd & 0xffffu);
  return __ushort_as_bfloat16(static_cast<unsigned short>(t >> 16));
}

}  // namespace mart::cuda
