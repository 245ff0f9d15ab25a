// Elementwise ops: GELU (tanh), SwiGLU, add, scale, RoPE. All memory-bound: one thread per pack of
// 8 bf16 (16-byte loads and stores) when aligned, the same code with scalar accesses otherwise.
// Math in fp32, one rounding to bf16 per output.
#include "common/error.h"
#include "cuda/cuda_ops_impl.cuh"

namespace mart::cuda {

namespace {

constexpr int kThreads = 256;
constexpr float kGeluScale = 0.7978845608028654f;  // sqrt(2/pi)
constexpr float kGeluCubic = 0.044715f;

__device__ __forceinline__ float gelu_f(float x) {
  const float u = kGeluScale * (x + kGeluCubic * x * x * x);
  return 0.5f * x * (1.0f + tanhf(u));
}
__device__ __forceinline__ float gelu_grad(float x) {
  const float u = kGeluScale * (x + kGeluCubic * x * x * x);
  const float th = tanhf(u);
  const float sech2 = 1.0f - th * th;
  const float du = kGeluScale * (1.0f + 3.0f * kGeluCubic * x * x);
  return 0.5f * (1.0f + th) + 0.5f * x * sech2 * du;
}
__device__ __forceinline__ float sigmoid_f(float x) {
  return 1.0f / (1.0f + expf(-x));
}

unsigned blocks_for(size_t items) {
  return static_cast<unsigned>(ceil_div(items, kThreads));
}

// out[n] = gelu(inp[n]); one thread per pack.
template <bool kVec>
__global__ void gelu_forward_kernel(bf16* out, const bf16* inp, size_t n) {
  const size_t i = (blockIdx.x * size_t(blockDim.x) + threadIdx.x) * kPack;
  if (i >= n) return;
  float x[8];
  load8b<kVec>(inp, i, n, x);
#pragma unroll
  for (int k = 0; k < 8; k++) x[k] = gelu_f(x[k]);
  store8b<kVec>(out, i, n, x);
}

// dinp[n] = gelu'(inp[n]) * dout[n] (overwritten; dinp may alias dout).
template <bool kVec>
__global__ void gelu_backward_kernel(bf16* dinp, const bf16* inp, const bf16* dout, size_t n) {
  const size_t i = (blockIdx.x * size_t(blockDim.x) + threadIdx.x) * kPack;
  if (i >= n) return;
  float x[8], d[8];
  load8b<kVec>(inp, i, n, x);
  load8b<kVec>(dout, i, n, d);
#pragma unroll
  for (int k = 0; k < 8; k++) d[k] *= gelu_grad(x[k]);
  store8b<kVec>(dinp, i, n, d);
}

// inp[N,2F] = [gate | up]; out[N,F] = silu(gate) * up. One thread per pack of a row's F outputs.
template <bool kVec>
__global__ void swiglu_forward_kernel(bf16* out, const bf16* inp, int N, int F) {
  const size_t packs_per_row = ceil_div(F, kPack);
  const size_t p = blockIdx.x * size_t(blockDim.x) + threadIdx.x;
  if (p >= packs_per_row * N) return;
  const size_t row = p / packs_per_row;
  const long c = long(p % packs_per_row) * kPack;
  const bf16* g = inp + row * 2 * F;
  float gv[8], uv[8];
  load8b<kVec>(g, c, F, gv);
  load8b<kVec>(g + F, c, F, uv);
#pragma unroll
  for (int k = 0; k < 8; k++) gv[k] = gv[k] * sigmoid_f(gv[k]) * uv[k];
  store8b<kVec>(out + row * F, c, F, gv);
}

// dinp[N,2F] (overwritten): dgate = dout*up*sig*(1 + g*(1-sig)), dup = dout*silu(g).
template <bool kVec>
__global__ void swiglu_backward_kernel(bf16* dinp, const bf16* dout, const bf16* inp, int N,
                                       int F) {
  const size_t packs_per_row = ceil_div(F, kPack);
  const size_t p = blockIdx.x * size_t(blockDim.x) + threadIdx.x;
  if (p >= packs_per_row * N) return;
  const size_t row = p / packs_per_row;
  const long c = long(p % packs_per_row) * kPack;
  const bf16* g = inp + row * 2 * F;
  float gv[8], uv[8], dv[8], dg[8], du[8];
  load8b<kVec>(g, c, F, gv);
  load8b<kVec>(g + F, c, F, uv);
  load8b<kVec>(dout + row * F, c, F, dv);
#pragma unroll
  for (int k = 0; k < 8; k++) {
    const float sig = sigmoid_f(gv[k]);
    dg[k] = dv[k] * uv[k] * sig * (1.0f + gv[k] * (1.0f - sig));
    du[k] = dv[k] * gv[k] * sig;
  }
  store8b<kVec>(dinp + row * 2 * F, c, F, dg);
  store8b<kVec>(dinp + row * 2 * F + F, c, F, du);
}

// out[n] = a[n] + b[n] (out may alias a or b).
template <bool kVec>
__global__ void add_kernel(bf16* out, const bf16* a, const bf16* b, size_t n) {
  const size_t i = (blockIdx.x * size_t(blockDim.x) + threadIdx.x) * kPack;
  if (i >= n) return;
  float x[8], y[8];
  load8b<kVec>(a, i, n, x);
  load8b<kVec>(b, i, n, y);
#pragma unroll
  for (int k = 0; k < 8; k++) x[k] += y[k];
  store8b<kVec>(out, i, n, x);
}

// x[n] *= s.
template <bool kVec>
__global__ void scale_kernel(bf16* x, float s, size_t n) {
  const size_t i = (blockIdx.x * size_t(blockDim.x) + threadIdx.x) * kPack;
  if (i >= n) return;
  float v[8];
  load8b<kVec>(x, i, n, v);
#pragma unroll
  for (int k = 0; k < 8; k++) v[k] *= s;
  store8b<kVec>(x, i, n, v);
}

// cos/sin table [T, half] for RoPE, computed in double like the CPU reference (so both see the
// same rotation to fp32 precision). sign = -1 for the inverse rotation.
__global__ void rope_table_kernel(float* cs, float* sn, int T, int half, int HS, double theta,
                                  float sign) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= T * half) return;
  const int t = i / half, j = i % half;
  const double inv_freq = pow(theta, -2.0 * j / HS);
  double s, c;
  sincos(t * inv_freq, &s, &c);
  cs[i] = static_cast<float>(c);
  sn[i] = sign * static_cast<float>(s);
}

// inp, out [B,T,(NH+2NKV)*HS]: every q and k head rotated pairwise (j, j+half). One thread per pack
// of 8 j's of one head of one row. out == inp is fine (each pair is read before it is written).
template <bool kVec>
__global__ void rope_kernel(bf16* out, const bf16* inp, const float* cs, const float* sn, int N,
                            int T, int n_rot_heads, int HS, size_t row_width) {
  const int half = HS / 2;
  const size_t packs_per_head = ceil_div(half, kPack);
  const size_t per_row = packs_per_head * n_rot_heads;
  const size_t p = blockIdx.x * size_t(blockDim.x) + threadIdx.x;
  if (p >= per_row * N) return;
  const size_t row = p / per_row;
  const size_t rem = p % per_row;
  const int head = int(rem / packs_per_head);
  const long j0 = long(rem % packs_per_head) * kPack;
  const int t = int(row % T);
  const bf16* x = inp + row * row_width + size_t(head) * HS;
  bf16* o = out + row * row_width + size_t(head) * HS;
  float x1[8], x2[8], o1[8], o2[8];
  load8b<kVec>(x, j0, half, x1);
  load8b<kVec>(x + half, j0, half, x2);
  const float* c = cs + size_t(t) * half;
  const float* s = sn + size_t(t) * half;
#pragma unroll
  for (int k = 0; k < 8; k++) {
    const long j = j0 + k;
    const float ck = j < half ? c[j] : 0.0f, sk = j < half ? s[j] : 0.0f;
    o1[k] = x1[k] * ck - x2[k] * sk;
    o2[k] = x2[k] * ck + x1[k] * sk;
  }
  store8b<kVec>(o, j0, half, o1);
  store8b<kVec>(o + half, j0, half, o2);
}

}  // namespace

void CudaOps::gelu_forward(void* out, const void* inp, size_t n) {
  if (n == 0) return;
  auto* o = static_cast<bf16*>(out);
  auto* x = static_cast<const bf16*>(inp);
  const unsigned grid = blocks_for(ceil_div(n, kPack));
  if (n % kPack == 0 && all_aligned16(o, x))
    gelu_forward_kernel<true><<<grid, kThreads, 0, stream_>>>(o, x, n);
  else
    gelu_forward_kernel<false><<<grid, kThreads, 0, stream_>>>(o, x, n);
  MART_CUDA_CHECK_LAUNCH("gelu_forward");
}

void CudaOps::gelu_backward(void* dinp, const void* inp, const void* dout, size_t n) {
  if (n == 0) return;
  auto* di = static_cast<bf16*>(dinp);
  auto* x = static_cast<const bf16*>(inp);
  auto* d = static_cast<const bf16*>(dout);
  const unsigned grid = blocks_for(ceil_div(n, kPack));
  if (n % kPack == 0 && all_aligned16(di, x, d))
    gelu_backward_kernel<true><<<grid, kThreads, 0, stream_>>>(di, x, d, n);
  else
    gelu_backward_kernel<false><<<grid, kThreads, 0, stream_>>>(di, x, d, n);
  MART_CUDA_CHECK_LAUNCH("gelu_backward");
}

void CudaOps::swiglu_forward(void* out, const void* inp, int N, int F) {
  MART_CHECK(N >= 0 && F > 0, "swiglu_forward: bad shape N=", N, " F=", F);
  if (N == 0) return;
  auto* o = static_cast<bf16*>(out);
  auto* x = static_cast<const bf16*>(inp);
  const unsigned grid = blocks_for(ceil_div(F, kPack) * N);
  if (F % kPack == 0 && all_aligned16(o, x))
    swiglu_forward_kernel<true><<<grid, kThreads, 0, stream_>>>(o, x, N, F);
  else
    swiglu_forward_kernel<false><<<grid, kThreads, 0, stream_>>>(o, x, N, F);
  MART_CUDA_CHECK_LAUNCH("swiglu_forward");
}

void CudaOps::swiglu_backward(void* dinp, const void* dout, const void* inp, int N, int F) {
  MART_CHECK(N >= 0 && F > 0, "swiglu_backward: bad shape N=", N, " F=", F);
  if (N == 0) return;
  auto* di = static_cast<bf16*>(dinp);
  auto* d = static_cast<const bf16*>(dout);
  auto* x = static_cast<const bf16*>(inp);
  const unsigned grid = blocks_for(ceil_div(F, kPack) * N);
  if (F % kPack == 0 && all_aligned16(di, d, x))
    swiglu_backward_kernel<true><<<grid, kThreads, 0, stream_>>>(di, d, x, N, F);
  else
    swiglu_backward_kernel<false><<<grid, kThreads, 0, stream_>>>(di, d, x, N, F);
  MART_CUDA_CHECK_LAUNCH("swiglu_backward");
}

void CudaOps::add(void* out, const void* a, const void* b, size_t n) {
  if (n == 0) return;
  auto* o = static_cast<bf16*>(out);
  auto* x = static_cast<const bf16*>(a);
  auto* y = static_cast<const bf16*>(b);
  const unsigned grid = blocks_for(ceil_div(n, kPack));
  if (n % kPack == 0 && all_aligned16(o, x, y))
    add_kernel<true><<<grid, kThreads, 0, stream_>>>(o, x, y, n);
  else
    add_kernel<false><<<grid, kThreads, 0, stream_>>>(o, x, y, n);
  MART_CUDA_CHECK_LAUNCH("add");
}

void CudaOps::scale(void* x, float s, size_t n) {
  if (n == 0) return;
  auto* v = static_cast<bf16*>(x);
  const unsigned grid = blocks_for(ceil_div(n, kPack));
  if (n % kPack == 0 && all_aligned16(v))
    scale_kernel<true><<<grid, kThreads, 0, stream_>>>(v, s, n);
  else
    scale_kernel<false><<<grid, kThreads, 0, stream_>>>(v, s, n);
  MART_CUDA_CHECK_LAUNCH("scale");
}

namespace {
// Shared by rope_forward (sign +1) and rope_backward (sign -1, the transpose of the rotation).
void rope_apply(CudaOps& ops, bf16* out, const bf16* inp, int B, int T, int NH, int NKV, int HS,
                float theta, float sign, const char* op) {
  MART_CHECK(B >= 0 && T >= 0 && NH > 0 && NKV > 0 && HS > 0, op, ": bad shape B=", B, " T=", T,
             " NH=", NH, " NKV=", NKV, " HS=", HS);
  MART_CHECK(HS % 2 == 0, op, ": head size HS=", HS, " must be even (rotary pairs j, j+HS/2)");
  MART_CHECK(theta > 0.0f, op, ": rope theta=", theta, " must be positive");
  if (B == 0 || T == 0) return;
  const int half = HS / 2;
  const size_t W = size_t(NH + 2 * NKV) * HS;
  const int N = B * T;
  cudaStream_t st = ops.stream();

  ScratchLayout lay;
  const size_t o_cs = lay.reserve(size_t(T) * half * sizeof(float));
  const size_t o_sn = lay.reserve(size_t(T) * half * sizeof(float));
  char* base = static_cast<char*>(ops.scratch(lay.total()));
  float* cs = reinterpret_cast<float*>(base + o_cs);
  float* sn = reinterpret_cast<float*>(base + o_sn);
  rope_table_kernel<<<unsigned(ceil_div(size_t(T) * half, kThreads)), kThreads, 0, st>>>(
      cs, sn, T, half, HS, double(theta), sign);
  MART_CUDA_CHECK_LAUNCH("rope_table");

  const int rot_heads = NH + NKV;
  const unsigned grid = blocks_for(ceil_div(half, kPack) * rot_heads * size_t(N));
  if (half % kPack == 0 && all_aligned16(out, inp))
    rope_kernel<true><<<grid, kThreads, 0, st>>>(out, inp, cs, sn, N, T, rot_heads, HS, W);
  else
    rope_kernel<false><<<grid, kThreads, 0, st>>>(out, inp, cs, sn, N, T, rot_heads, HS, W);
  MART_CUDA_CHECK_LAUNCH("rope");
  if (out != inp) {  // v heads pass through: a strided 2-D copy of the last NKV*HS columns
    const size_t off = size_t(rot_heads) * HS;
    MART_CUDA_CHECK(cudaMemcpy2DAsync(out + off, W * sizeof(bf16), inp + off, W * sizeof(bf16),
                                      size_t(NKV) * HS * sizeof(bf16), N, cudaMemcpyDeviceToDevice,
                                      st));
  }
}
}  // namespace

void CudaOps::rope_forward(void* out, const void* inp, int B, int T, int NH, int NKV, int HS,
                           float theta) {
  rope_apply(*this, static_cast<bf16*>(out), static_cast<const bf16*>(inp), B, T, NH, NKV, HS,
             theta, 1.0f, "rope_forward");
}

void CudaOps::rope_backward(void* dinp, const void* dout, int B, int T, int NH, int NKV, int HS,
                            float theta) {
  rope_apply(*this, static_cast<bf16*>(dinp), static_cast<const bf16*>(dout), B, T, NH, NKV, HS,
             theta, -1.0f, "rope_backward");
}

}  // namespace mart::cuda
