// LayerNorm and RMSNorm, forward and backward, plus the deterministic column-sum machinery the
// weight gradients (and matmul's dbias) use.
//
// Forward: one warp per row, fp32 statistics, 16-byte loads; rows up to 2048 wide stay in
// registers (one DRAM read), wider rows are re-read from L1/L2.
// Backward, in three deterministic steps (no float atomics anywhere):
//   1. row kernel   (warp per row): the two per-row scalars the input gradient needs;
//   2. column kernel (block = 256-column tile x row slice): dinp += ... for its tile, and per-slice
//      partial sums of dw (and db) accumulated in registers in a fixed row order;
//   3. finalize: dw[c] += sum over slices in slice order.
#include <algorithm>

#include "common/error.h"
#include "cuda/cuda_ops_impl.cuh"

namespace mart::cuda {

namespace {

constexpr int kRowThreads = 256;  // 8 rows (warps) per block in the row kernels
constexpr int kColTile = 256;     // columns per column-kernel block: 32 lanes x 8
constexpr int kColWarps = 8;
constexpr int kMaxCachedPacks = 8;  // rows up to 8*256 = 2048 wide are cached in registers

// ---- forward ------------------------------------------------------------------------------------

// out[c..c+8) = (v - m) * rs * w (+ b): the last pass of the forward kernels.
template <bool kVec, bool kLayerNorm>
__device__ __forceinline__ void norm_emit(bf16* o, const bf16* w, const bf16* b, long c, long C,
                                          const float (&v)[8], float m, float rs) {
  float wv[8], bv[8], r[8];
  load8b<kVec>(w, c, C, wv);
  if (kLayerNorm && b) load8b<kVec>(b, c, C, bv);
#pragma unroll
  for (int k = 0; k < 8; k++) {
    const float nrm = (v[k] - m) * rs;
    r[k] = (kLayerNorm && b) ? nrm * wv[k] + bv[k] : nrm * wv[k];
  }
  store8b<kVec>(o, c, C, r);
}

// inp, out [N,C]; w, b [C] (b may be null); mean, rstd [N] fp32 (may be null). Warp per row.
// kPacks > 0: the row is held in registers (requires kVec and C <= 256 * kPacks).
template <bool kVec, int kPacks, bool kLayerNorm>
__global__ void norm_forward_kernel(bf16* out, float* mean, float* rstd, const bf16* inp,
                                    const bf16* w, const bf16* b, int N, int C, float eps) {
  const int lane = threadIdx.x % kWarpSize;
  const int row = blockIdx.x * (blockDim.x / kWarpSize) + threadIdx.x / kWarpSize;
  if (row >= N) return;
  const bf16* x = inp + size_t(row) * C;
  bf16* o = out + size_t(row) * C;
  constexpr int kStride = kWarpSize * kPack;
  float cache[kPacks > 0 ? kPacks : 1][8];

  // Pass 1: mean (LayerNorm) or mean square (RMSNorm).
  float s1 = 0.0f;
  if constexpr (kPacks > 0) {
#pragma unroll
    for (int i = 0; i < kPacks; i++) {
      const long c = long(lane) * kPack + long(i) * kStride;
      if (c < C) {
        load8(x + c, cache[i]);
      } else {
#pragma unroll
        for (int k = 0; k < 8; k++) cache[i][k] = 0.0f;
      }
#pragma unroll
      for (int k = 0; k < 8; k++) s1 += kLayerNorm ? cache[i][k] : cache[i][k] * cache[i][k];
    }
  } else {
    for (long c = long(lane) * kPack; c < C; c += kStride) {
      float v[8];
      load8b<kVec>(x, c, C, v);
#pragma unroll
      for (int k = 0; k < 8; k++) s1 += kLayerNorm ? v[k] : v[k] * v[k];
    }
  }
  s1 = warp_sum(s1);
  float m = 0.0f, rs;
  if constexpr (kLayerNorm) {
    m = s1 / C;
    // Pass 2: variance about the mean (two-pass: no cancellation when |mean| >> std).
    float var = 0.0f;
    if constexpr (kPacks > 0) {
#pragma unroll
      for (int i = 0; i < kPacks; i++) {
        const long c = long(lane) * kPack + long(i) * kStride;
        if (c < C) {
#pragma unroll
          for (int k = 0; k < 8; k++) var += (cache[i][k] - m) * (cache[i][k] - m);
        }
      }
    } else {
      for (long c = long(lane) * kPack; c < C; c += kStride) {
        float v[8];
        load8b<kVec>(x, c, C, v);
#pragma unroll
        for (int k = 0; k < 8; k++)
          if (kVec || c + k < C) var += (v[k] - m) * (v[k] - m);
      }
    }
    var = warp_sum(var) / C;
    rs = 1.0f / sqrtf(var + eps);
  } else {
    rs = 1.0f / sqrtf(s1 / C + eps);
  }
  // Pass 3: normalise, scale, shift.
  if constexpr (kPacks > 0) {
#pragma unroll
    for (int i = 0; i < kPacks; i++) {
      const long c = long(lane) * kPack + long(i) * kStride;
      if (c < C) norm_emit<kVec, kLayerNorm>(o, w, b, c, C, cache[i], m, rs);
    }
  } else {
    for (long c = long(lane) * kPack; c < C; c += kStride) {
      float v[8];
      load8b<kVec>(x, c, C, v);
      norm_emit<kVec, kLayerNorm>(o, w, b, c, C, v, m, rs);
    }
  }
  if (lane == 0) {
    if (kLayerNorm && mean) mean[row] = m;
    if (rstd) rstd[row] = rs;
  }
}

template <bool kLayerNorm>
void launch_norm_forward(cudaStream_t st, bf16* out, float* mean, float* rstd, const bf16* inp,
                         const bf16* w, const bf16* b, int N, int C, float eps) {
  const unsigned grid = unsigned(ceil_div(N, kRowThreads / kWarpSize));
  const bool vec = C % kPack == 0 && all_aligned16(out, inp, w, b);
  if (vec && C <= kMaxCachedPacks * kColTile)
    norm_forward_kernel<true, kMaxCachedPacks, kLayerNorm>
        <<<grid, kRowThreads, 0, st>>>(out, mean, rstd, inp, w, b, N, C, eps);
  else if (vec)
    norm_forward_kernel<true, 0, kLayerNorm>
        <<<grid, kRowThreads, 0, st>>>(out, mean, rstd, inp, w, b, N, C, eps);
  else
    norm_forward_kernel<false, 0, kLayerNorm>
        <<<grid, kRowThreads, 0, st>>>(out, mean, rstd, inp, w, b, N, C, eps);
  MART_CUDA_CHECK_LAUNCH("norm_forward");
}

// ---- backward -----------------------------------------------------------------------------------

// Step 1, warp per row. dout, inp [N,C]; w [C]; mean, rstd [N].
//   LayerNorm: stats[n] = (mean_c(w*dout), mean_c(w*dout*norm))
//   RMSNorm:   stats[n].x = rstd^3 * mean_c(dout*w*x)
template <bool kVec, bool kLayerNorm>
__global__ void norm_backward_rows_kernel(float2* stats, const bf16* dout, const bf16* inp,
                                          const bf16* w, const float* mean, const float* rstd,
                                          int N, int C) {
  const int lane = threadIdx.x % kWarpSize;
  const int row = blockIdx.x * (blockDim.x / kWarpSize) + threadIdx.x / kWarpSize;
  if (row >= N) return;
  const bf16* x = inp + size_t(row) * C;
  const bf16* d = dout + size_t(row) * C;
  const float m = kLayerNorm ? mean[row] : 0.0f, rs = rstd[row];
  float s1 = 0.0f, s2 = 0.0f;
  for (long c = long(lane) * kPack; c < C; c += kWarpSize * kPack) {
    float xv[8], dv[8], wv[8];
    load8b<kVec>(x, c, C, xv);
    load8b<kVec>(d, c, C, dv);
    load8b<kVec>(w, c, C, wv);
#pragma unroll
    for (int k = 0; k < 8; k++) {
      const float dn = wv[k] * dv[k];  // 0 past the row end (dv = 0 there)
      if constexpr (kLayerNorm) {
        s1 += dn;
        s2 += dn * ((xv[k] - m) * rs);
      } else {
        s1 += dn * xv[k];
      }
    }
  }
  s1 = warp_sum(s1);
  s2 = warp_sum(s2);
  if (lane == 0)
    stats[row] =
        kLayerNorm ? make_float2(s1 / C, s2 / C) : make_float2(rs * rs * rs * s1 / C, 0.0f);
}

// Step 2. Block (tile, slice): columns [tile*256, +256), rows [slice*rows_per, +rows_per).
// Lane l owns 8 columns; warp w takes rows w, w+8, ... of the slice (fixed order).
//   LayerNorm: dinp += (w*d - a - norm*bb) * rstd;  dw += d*norm;  db += d
//   RMSNorm:   dinp += rstd*w*d - x*k;              dw += d*x*rstd
// partial_w / partial_b [S, C]: this slice's column sums.
template <bool kVec, bool kLayerNorm>
__global__ void norm_backward_cols_kernel(bf16* dinp, float* partial_w, float* partial_b,
                                          const float2* stats, const bf16* dout, const bf16* inp,
                                          const bf16* w, const float* mean, const float* rstd,
                                          int N, int C, int rows_per_slice) {
  __shared__ float red[2][kColWarps][kColTile];
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const long c = long(blockIdx.x) * kColTile + lane * kPack;
  const int r0 = blockIdx.y * rows_per_slice;
  const int r1 = min(N, r0 + rows_per_slice);
  float accw[8] = {0}, accb[8] = {0};
  if (c < C) {
    float wv[8];
    load8b<kVec>(w, c, C, wv);
    for (int r = r0 + warp; r < r1; r += kColWarps) {
      const size_t off = size_t(r) * C;
      float xv[8], dv[8], gv[8];
      load8b<kVec>(inp + off, c, C, xv);
      load8b<kVec>(dout + off, c, C, dv);
      load8b<kVec>(dinp + off, c, C, gv);
      const float rs = rstd[r];
      const float2 st = stats[r];
      const float m = kLayerNorm ? mean[r] : 0.0f;
#pragma unroll
      for (int k = 0; k < 8; k++) {
        if constexpr (kLayerNorm) {
          const float nrm = (xv[k] - m) * rs;
          gv[k] += (wv[k] * dv[k] - st.x - nrm * st.y) * rs;
          accw[k] += dv[k] * nrm;
          accb[k] += dv[k];
        } else {
          gv[k] += rs * wv[k] * dv[k] - xv[k] * st.x;
          accw[k] += dv[k] * xv[k] * rs;
        }
      }
      store8b<kVec>(dinp + off, c, C, gv);
    }
  }
  // Combine the 8 warps' partials in warp order.
#pragma unroll
  for (int k = 0; k < 8; k++) {
    red[0][warp][lane * kPack + k] = accw[k];
    red[1][warp][lane * kPack + k] = accb[k];
  }
  __syncthreads();
  const long col = long(blockIdx.x) * kColTile + threadIdx.x;  // blockDim.x == kColTile
  if (col < C) {
    float sw = 0.0f, sb = 0.0f;
#pragma unroll
    for (int i = 0; i < kColWarps; i++) {
      sw += red[0][i][threadIdx.x];
      sb += red[1][i][threadIdx.x];
    }
    partial_w[size_t(blockIdx.y) * C + col] = sw;
    if (kLayerNorm && partial_b) partial_b[size_t(blockIdx.y) * C + col] = sb;
  }
}

// Step 3. dst[c] += sum_s partial[s*C + c] in slice order (dst2 likewise, if given).
__global__ void finalize_column_sums_kernel(bf16* dst, const float* partial, bf16* dst2,
                                            const float* partial2, int S, int C) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  float s = 0.0f;
  for (int i = 0; i < S; i++) s += partial[size_t(i) * C + c];
  dst[c] = to_bf(to_f(dst[c]) + s);
  if (dst2) {
    float s2 = 0.0f;
    for (int i = 0; i < S; i++) s2 += partial2[size_t(i) * C + c];
    dst2[c] = to_bf(to_f(dst2[c]) + s2);
  }
}

template <bool kLayerNorm>
void norm_backward(CudaOps& ops, bf16* dinp, bf16* dw, bf16* db, const bf16* dout, const bf16* inp,
                   const bf16* w, const float* mean, const float* rstd, int N, int C) {
  cudaStream_t st = ops.stream();
  const int S = CudaOps::column_slices(N, C);
  const int rows_per_slice = int(ceil_div(N, S));
  ScratchLayout lay;
  const size_t o_stats = lay.reserve(size_t(N) * sizeof(float2));
  const size_t o_pw = lay.reserve(size_t(S) * C * sizeof(float));
  const size_t o_pb = kLayerNorm && db ? lay.reserve(size_t(S) * C * sizeof(float)) : 0;
  char* base = static_cast<char*>(ops.scratch(lay.total()));
  auto* stats = reinterpret_cast<float2*>(base + o_stats);
  auto* pw = reinterpret_cast<float*>(base + o_pw);
  auto* pb = kLayerNorm && db ? reinterpret_cast<float*>(base + o_pb) : nullptr;

  const bool vec = C % kPack == 0 && all_aligned16(dinp, dout, inp, w);
  const unsigned row_grid = unsigned(ceil_div(N, kRowThreads / kWarpSize));
  if (vec)
    norm_backward_rows_kernel<true, kLayerNorm>
        <<<row_grid, kRowThreads, 0, st>>>(stats, dout, inp, w, mean, rstd, N, C);
  else
    norm_backward_rows_kernel<false, kLayerNorm>
        <<<row_grid, kRowThreads, 0, st>>>(stats, dout, inp, w, mean, rstd, N, C);
  MART_CUDA_CHECK_LAUNCH("norm_backward_rows");

  const dim3 col_grid(unsigned(ceil_div(C, kColTile)), unsigned(S));
  if (vec)
    norm_backward_cols_kernel<true, kLayerNorm><<<col_grid, kColTile, 0, st>>>(
        dinp, pw, pb, stats, dout, inp, w, mean, rstd, N, C, rows_per_slice);
  else
    norm_backward_cols_kernel<false, kLayerNorm><<<col_grid, kColTile, 0, st>>>(
        dinp, pw, pb, stats, dout, inp, w, mean, rstd, N, C, rows_per_slice);
  MART_CUDA_CHECK_LAUNCH("norm_backward_cols");
  ops.finalize_column_sums(dw, pw, kLayerNorm ? db : nullptr, pb, S, C);
}

void check_shape(const char* op, int N, int C) {
  MART_CHECK(N >= 0 && C > 0, op, ": bad shape N=", N, " C=", C, " (need N >= 0, C > 0)");
}

}  // namespace

int CudaOps::column_slices(int N, int C) {
  // About 1024 blocks in flight for the column kernels, at least 8 rows per slice.
  const int tiles = int(ceil_div(C, kColTile));
  const int want = int(ceil_div(1024, tiles));
  const int max_by_rows = std::max(1, int(ceil_div(N, 8)));
  return std::max(1, std::min({want, max_by_rows, 1024}));
}

void CudaOps::finalize_column_sums(bf16* dst, const float* partial, bf16* dst2,
                                   const float* partial2, int S, int C) {
  finalize_column_sums_kernel<<<unsigned(ceil_div(C, 256)), 256, 0, stream_>>>(dst, partial, dst2,
                                                                               partial2, S, C);
  MART_CUDA_CHECK_LAUNCH("finalize_column_sums");
}

void CudaOps::layernorm_forward(void* out, float* mean, float* rstd, const void* inp, const void* w,
                                const void* b, int N, int C, float eps) {
  check_shape("layernorm_forward", N, C);
  if (N == 0) return;
  launch_norm_forward<true>(stream_, static_cast<bf16*>(out), mean, rstd,
                            static_cast<const bf16*>(inp), static_cast<const bf16*>(w),
                            static_cast<const bf16*>(b), N, C, eps);
}

void CudaOps::layernorm_backward(void* dinp, void* dw, void* db, const void* dout, const void* inp,
                                 const void* w, const float* mean, const float* rstd, int N,
                                 int C) {
  check_shape("layernorm_backward", N, C);
  if (N == 0) return;
  norm_backward<true>(*this, static_cast<bf16*>(dinp), static_cast<bf16*>(dw),
                      static_cast<bf16*>(db), static_cast<const bf16*>(dout),
                      static_cast<const bf16*>(inp), static_cast<const bf16*>(w), mean, rstd, N, C);
}

void CudaOps::rmsnorm_forward(void* out, float* rstd, const void* inp, const void* w, int N, int C,
                              float eps) {
  check_shape("rmsnorm_forward", N, C);
  if (N == 0) return;
  launch_norm_forward<false>(stream_, static_cast<bf16*>(out), nullptr, rstd,
                             static_cast<const bf16*>(inp), static_cast<const bf16*>(w), nullptr, N,
                             C, eps);
}

void CudaOps::rmsnorm_backward(void* dinp, void* dw, const void* dout, const void* inp,
                               const void* w, const float* rstd, int N, int C) {
  check_shape("rmsnorm_backward", N, C);
  if (N == 0) return;
  norm_backward<false>(*this, static_cast<bf16*>(dinp), static_cast<bf16*>(dw), nullptr,
                       static_cast<const bf16*>(dout), static_cast<const bf16*>(inp),
                       static_cast<const bf16*>(w), nullptr, rstd, N, C);
}

}  // namespace mart::cuda
