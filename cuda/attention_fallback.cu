// MART's own causal GQA attention, forward and backward: used for shapes cuDNN rejects (or when
// MART_ATTENTION=fallback). Written for clarity and exactness, not speed: a warp per query row
// (forward, dQ) or per key row (dK, dV), fp32 math with accurate expf, online softmax, and no
// atomics, so it is deterministic. Roughly O(T^2 * HS) work per head like any exact attention,
// but without tensor cores: expect it to be several times slower than cuDNN.
//
// Layout (ops.h): qkv [B,T,(NH+2NKV)*HS] = per row NH query heads, NKV key heads, NKV value heads;
// query head h reads kv head h / (NH/NKV). out [B,T,NH*HS]; lse [B,NH,T] (natural log of the sum of
// exp of the scaled, masked scores).
#include "common/error.h"
#include "cuda/cuda_ops_impl.cuh"

namespace mart::cuda {

namespace {

constexpr int kWarps = 4;  // warps (rows) per block

struct AttnShape {
  int B, T, NH, NKV, HS, HSp;  // HSp: HS rounded up to 8 (shared-memory row pitch, zero padded)
  size_t W;                    // qkv row width (NH+2NKV)*HS
  float scale;                 // 1/sqrt(HS)
};

// dot(s[0..HS), row[0..HS)) with s a zero-padded fp32 row in shared memory.
template <bool kVec>
__device__ __forceinline__ float dot_row(const float* s, const bf16* row, int HS) {
  float acc = 0.0f;
  for (int d = 0; d < HS; d += kPack) {
    float f[8];
    load8b<kVec>(row, d, HS, f);
#pragma unroll
    for (int k = 0; k < 8; k++) acc += s[d + k] * f[k];
  }
  return acc;
}

// Copies row[0..HS) * mul into the warp's shared row (zero padded to HSp).
__device__ __forceinline__ void stage_row(float* s, const bf16* row, int HS, int HSp, float mul) {
  const int lane = threadIdx.x % kWarpSize;
  for (int d = lane; d < HSp; d += kWarpSize) s[d] = d < HS ? to_f(row[d]) * mul : 0.0f;
  __syncwarp();
}

// One warp per (b, h, t). kDPL = output dims per lane (HS <= 32*kDPL).
template <bool kVec, int kDPL>
__global__ void attn_fwd_kernel(bf16* out, float* lse, const bf16* qkv, AttnShape sh) {
  extern __shared__ float smem[];
  const int lane = threadIdx.x % kWarpSize, wib = threadIdx.x / kWarpSize;
  const size_t r = size_t(blockIdx.x) * kWarps + wib;  // ((b*NH + h)*T + t)
  if (r >= size_t(sh.B) * sh.NH * sh.T) return;
  const int t = int(r % sh.T), h = int((r / sh.T) % sh.NH), b = int(r / (size_t(sh.T) * sh.NH));
  const int g = h / (sh.NH / sh.NKV);
  float* sq = smem + wib * sh.HSp;
  const bf16* base = qkv + size_t(b) * sh.T * sh.W;
  stage_row(sq, base + size_t(t) * sh.W + size_t(h) * sh.HS, sh.HS, sh.HSp, sh.scale);
  const size_t koff = size_t(sh.NH + g) * sh.HS, voff = size_t(sh.NH + sh.NKV + g) * sh.HS;

  float acc[kDPL] = {0};
  float m = -INFINITY, l = 0.0f;
  for (int c0 = 0; c0 <= t; c0 += kWarpSize) {
    const int key = c0 + lane;
    const float s =
        key <= t ? dot_row<kVec>(sq, base + size_t(key) * sh.W + koff, sh.HS) : -INFINITY;
    const float mnew = fmaxf(m, warp_max(s));
    const float p = key <= t ? expf(s - mnew) : 0.0f;
    const float corr = expf(m - mnew);  // 0 on the first chunk (m = -inf)
    l = l * corr + warp_sum(p);
#pragma unroll
    for (int i = 0; i < kDPL; i++) acc[i] *= corr;
    const int nk = min(kWarpSize, t - c0 + 1);
    for (int j = 0; j < nk; j++) {
      const float pj = __shfl_sync(0xffffffffu, p, j);
      const bf16* vrow = base + size_t(c0 + j) * sh.W + voff;
#pragma unroll
      for (int i = 0; i < kDPL; i++) {
        const int d = lane + i * kWarpSize;
        if (d < sh.HS) acc[i] += pj * to_f(vrow[d]);
      }
    }
    m = mnew;
  }
  bf16* o = out + (size_t(b) * sh.T + t) * sh.NH * sh.HS + size_t(h) * sh.HS;
#pragma unroll
  for (int i = 0; i < kDPL; i++) {
    const int d = lane + i * kWarpSize;
    if (d < sh.HS) o[d] = to_bf(acc[i] / l);
  }
  if (lane == 0) lse[r] = m + logf(l);
}

// Dbuf[(b*NH+h)*T + t] = sum_d dout[b,t,h,d] * out[b,t,h,d]. One warp per row.
__global__ void attn_bwd_dot_kernel(float* Dbuf, const bf16* dout, const bf16* out, AttnShape sh) {
  const int lane = threadIdx.x % kWarpSize;
  const size_t r = size_t(blockIdx.x) * kWarps + threadIdx.x / kWarpSize;
  if (r >= size_t(sh.B) * sh.NH * sh.T) return;
  const int t = int(r % sh.T), h = int((r / sh.T) % sh.NH), b = int(r / (size_t(sh.T) * sh.NH));
  const size_t off = (size_t(b) * sh.T + t) * sh.NH * sh.HS + size_t(h) * sh.HS;
  float s = 0.0f;
  for (int d = lane; d < sh.HS; d += kWarpSize) s += to_f(dout[off + d]) * to_f(out[off + d]);
  s = warp_sum(s);
  if (lane == 0) Dbuf[r] = s;
}

// dQ: one warp per (b, h, t): dq = scale * sum_{t' <= t} P*(dP - D) * k[t'].
template <bool kVec, int kDPL>
__global__ void attn_bwd_dq_kernel(bf16* dqkv, const bf16* dout, const bf16* qkv, const float* lse,
                                   const float* Dbuf, AttnShape sh) {
  extern __shared__ float smem[];
  const int lane = threadIdx.x % kWarpSize, wib = threadIdx.x / kWarpSize;
  const size_t r = size_t(blockIdx.x) * kWarps + wib;
  if (r >= size_t(sh.B) * sh.NH * sh.T) return;
  const int t = int(r % sh.T), h = int((r / sh.T) % sh.NH), b = int(r / (size_t(sh.T) * sh.NH));
  const int g = h / (sh.NH / sh.NKV);
  float* sq = smem + (2 * wib) * sh.HSp;
  float* sdo = sq + sh.HSp;
  const bf16* base = qkv + size_t(b) * sh.T * sh.W;
  stage_row(sq, base + size_t(t) * sh.W + size_t(h) * sh.HS, sh.HS, sh.HSp, sh.scale);
  stage_row(sdo, dout + (size_t(b) * sh.T + t) * sh.NH * sh.HS + size_t(h) * sh.HS, sh.HS, sh.HSp,
            1.0f);
  const size_t koff = size_t(sh.NH + g) * sh.HS, voff = size_t(sh.NH + sh.NKV + g) * sh.HS;
  const float L = lse[r], Dt = Dbuf[r];
  float acc[kDPL] = {0};
  for (int c0 = 0; c0 <= t; c0 += kWarpSize) {
    const int key = c0 + lane;
    float ds = 0.0f;
    if (key <= t) {
      const float p = expf(dot_row<kVec>(sq, base + size_t(key) * sh.W + koff, sh.HS) - L);
      const float dp = dot_row<kVec>(sdo, base + size_t(key) * sh.W + voff, sh.HS);
      ds = p * (dp - Dt);
    }
    const int nk = min(kWarpSize, t - c0 + 1);
    for (int j = 0; j < nk; j++) {
      const float dsj = __shfl_sync(0xffffffffu, ds, j);
      const bf16* krow = base + size_t(c0 + j) * sh.W + koff;
#pragma unroll
      for (int i = 0; i < kDPL; i++) {
        const int d = lane + i * kWarpSize;
        if (d < sh.HS) acc[i] += dsj * to_f(krow[d]);
      }
    }
  }
  bf16* dq = dqkv + (size_t(b) * sh.T + t) * sh.W + size_t(h) * sh.HS;
#pragma unroll
  for (int i = 0; i < kDPL; i++) {
    const int d = lane + i * kWarpSize;
    if (d < sh.HS) dq[d] = to_bf(acc[i] * sh.scale);
  }
}

// dK, dV: one warp per (b, kv head g, key position t'), summing over the group's query heads and
// the queries t >= t': dv += P * dout[t]; dk += scale * P*(dP - D) * q[t].
template <bool kVec, int kDPL>
__global__ void attn_bwd_dkv_kernel(bf16* dqkv, const bf16* dout, const bf16* qkv, const float* lse,
                                    const float* Dbuf, AttnShape sh) {
  extern __shared__ float smem[];
  const int lane = threadIdx.x % kWarpSize, wib = threadIdx.x / kWarpSize;
  const size_t r = size_t(blockIdx.x) * kWarps + wib;  // ((b*NKV + g)*T + tk)
  if (r >= size_t(sh.B) * sh.NKV * sh.T) return;
  const int tk = int(r % sh.T), g = int((r / sh.T) % sh.NKV), b = int(r / (size_t(sh.T) * sh.NKV));
  const int rep = sh.NH / sh.NKV;
  float* sk = smem + (2 * wib) * sh.HSp;
  float* sv = sk + sh.HSp;
  const bf16* base = qkv + size_t(b) * sh.T * sh.W;
  const size_t koff = size_t(sh.NH + g) * sh.HS, voff = size_t(sh.NH + sh.NKV + g) * sh.HS;
  stage_row(sk, base + size_t(tk) * sh.W + koff, sh.HS, sh.HSp, sh.scale);
  stage_row(sv, base + size_t(tk) * sh.W + voff, sh.HS, sh.HSp, 1.0f);
  const bf16* dbase = dout + size_t(b) * sh.T * sh.NH * sh.HS;
  float dk[kDPL] = {0}, dv[kDPL] = {0};
  for (int h = g * rep; h < (g + 1) * rep; h++) {
    const size_t stat = (size_t(b) * sh.NH + h) * sh.T;
    for (int c0 = tk; c0 < sh.T; c0 += kWarpSize) {
      const int tq = c0 + lane;
      float p = 0.0f, ds = 0.0f;
      if (tq < sh.T) {
        p = expf(dot_row<kVec>(sk, base + size_t(tq) * sh.W + size_t(h) * sh.HS, sh.HS) -
                 lse[stat + tq]);
        const float dp =
            dot_row<kVec>(sv, dbase + size_t(tq) * sh.NH * sh.HS + size_t(h) * sh.HS, sh.HS);
        ds = p * (dp - Dbuf[stat + tq]);
      }
      const int nq = min(kWarpSize, sh.T - c0);
      for (int j = 0; j < nq; j++) {
        const float pj = __shfl_sync(0xffffffffu, p, j);
        const float dsj = __shfl_sync(0xffffffffu, ds, j);
        const bf16* qrow = base + size_t(c0 + j) * sh.W + size_t(h) * sh.HS;
        const bf16* dorow = dbase + size_t(c0 + j) * sh.NH * sh.HS + size_t(h) * sh.HS;
#pragma unroll
        for (int i = 0; i < kDPL; i++) {
          const int d = lane + i * kWarpSize;
          if (d < sh.HS) {
            dv[i] += pj * to_f(dorow[d]);
            dk[i] += dsj * to_f(qrow[d]);
          }
        }
      }
    }
  }
  bf16* dkr = dqkv + (size_t(b) * sh.T + tk) * sh.W + koff;
  bf16* dvr = dqkv + (size_t(b) * sh.T + tk) * sh.W + voff;
#pragma unroll
  for (int i = 0; i < kDPL; i++) {
    const int d = lane + i * kWarpSize;
    if (d < sh.HS) {
      dkr[d] = to_bf(dk[i] * sh.scale);
      dvr[d] = to_bf(dv[i]);
    }
  }
}

AttnShape make_shape(int B, int T, int NH, int NKV, int HS) {
  AttnShape sh;
  sh.B = B, sh.T = T, sh.NH = NH, sh.NKV = NKV, sh.HS = HS;
  sh.HSp = int(round_up(HS, kPack));
  sh.W = size_t(NH + 2 * NKV) * HS;
  sh.scale = 1.0f / sqrtf(float(HS));
  return sh;
}

// Calls f.template run<kVec, kDPL>() for the instantiation that fits HS.
template <class F>
void dispatch(int HS, bool vec, const F& f) {
  MART_CHECK(HS <= 256, "attention fallback supports head size up to 256, got ", HS);
  if (vec) {
    if (HS <= 64) return f.template run<true, 2>();
    if (HS <= 128) return f.template run<true, 4>();
    return f.template run<true, 8>();
  }
  if (HS <= 64) return f.template run<false, 2>();
  if (HS <= 128) return f.template run<false, 4>();
  return f.template run<false, 8>();
}

struct FwdLaunch {
  bf16* out;
  float* lse;
  const bf16* qkv;
  AttnShape sh;
  unsigned grid;
  size_t smem;
  cudaStream_t st;
  template <bool kVec, int kDPL>
  void run() const {
    attn_fwd_kernel<kVec, kDPL><<<grid, kWarps * kWarpSize, smem, st>>>(out, lse, qkv, sh);
  }
};

struct BwdLaunch {
  bf16* dqkv;
  const bf16 *dout, *qkv;
  const float *lse, *Dbuf;
  AttnShape sh;
  unsigned q_grid, kv_grid;
  size_t smem;
  cudaStream_t st;
  template <bool kVec, int kDPL>
  void run() const {
    attn_bwd_dq_kernel<kVec, kDPL>
        <<<q_grid, kWarps * kWarpSize, smem, st>>>(dqkv, dout, qkv, lse, Dbuf, sh);
    attn_bwd_dkv_kernel<kVec, kDPL>
        <<<kv_grid, kWarps * kWarpSize, smem, st>>>(dqkv, dout, qkv, lse, Dbuf, sh);
  }
};

}  // namespace

void CudaOps::attention_forward_fallback(bf16* out, float* lse, const bf16* qkv, int B, int T,
                                         int NH, int NKV, int HS) {
  const AttnShape sh = make_shape(B, T, NH, NKV, HS);
  const size_t rows = size_t(B) * NH * T;
  const unsigned grid = unsigned(ceil_div(rows, kWarps));
  const size_t smem = size_t(kWarps) * sh.HSp * sizeof(float);
  const bool vec = HS % kPack == 0 && aligned16(qkv);
  dispatch(HS, vec, FwdLaunch{out, lse, qkv, sh, grid, smem, stream_});
  MART_CUDA_CHECK_LAUNCH("attn_fwd (fallback)");
}

void CudaOps::attention_backward_fallback(bf16* dqkv, const bf16* dout, const bf16* qkv,
                                          const bf16* out, const float* lse, int B, int T, int NH,
                                          int NKV, int HS) {
  const AttnShape sh = make_shape(B, T, NH, NKV, HS);
  const size_t rows = size_t(B) * NH * T;
  auto* Dbuf = static_cast<float*>(scratch(rows * sizeof(float)));
  const unsigned grid = unsigned(ceil_div(rows, kWarps));
  attn_bwd_dot_kernel<<<grid, kWarps * kWarpSize, 0, stream_>>>(Dbuf, dout, out, sh);
  MART_CUDA_CHECK_LAUNCH("attn_bwd_dot (fallback)");
  const size_t smem = size_t(2 * kWarps) * sh.HSp * sizeof(float);
  const bool vec = HS % kPack == 0 && all_aligned16(qkv, dout);
  const unsigned kv_grid = unsigned(ceil_div(size_t(B) * NKV * T, kWarps));
  dispatch(HS, vec, BwdLaunch{dqkv, dout, qkv, lse, Dbuf, sh, grid, kv_grid, smem, stream_});
  MART_CUDA_CHECK_LAUNCH("attn_bwd_dq/dkv (fallback)");
}

}  // namespace mart::cuda
