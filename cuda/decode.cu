// Decoding ops of the CUDA backend (kernels/ops.h): attention of new query rows against a KV
// cache, rope at a position offset, and the head's logits in fp32. Written for exactness and
// determinism (fixed reduction order, no atomics), not peak speed: decoding one token reads every
// weight once, so it is bound by memory bandwidth in the matmuls, not by these kernels.
//
// Cache layout: k_cache, v_cache [B, NKV, max_T, HS] bf16.
#include <cmath>

#include "common/error.h"
#include "cuda/cuda_ops_impl.cuh"

namespace mart::cuda {

namespace {

constexpr int kDecodeThreads = 128;  // one block per query row and head

__global__ void append_kv_kernel(bf16* kc, bf16* vc, const bf16* qkv, int B, int T, int pos,
                                 int max_T, int NH, int NKV, int HS) {
  const size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x;
  const size_t per_row = size_t(NKV) * HS;
  if (i >= size_t(B) * T * per_row) return;
  const size_t row = i / per_row;  // b * T + t
  const int h = int((i % per_row) / HS), d = int(i % HS);
  const int b = int(row / T), t = int(row % T);
  const size_t W = size_t(NH + 2 * NKV) * HS;
  const bf16* r = qkv + row * W;
  const size_t c = ((size_t(b) * NKV + h) * max_T + pos + t) * HS + d;
  kc[c] = r[size_t(NH + h) * HS + d];
  vc[c] = r[size_t(NH + NKV + h) * HS + d];
}

// Block-wide max or sum (deterministic: fixed shuffle tree, then warp 0 over the warp results).
template <bool kMax>
__device__ float block_reduce(float v, float* red) {
  for (int o = kWarpSize / 2; o > 0; o >>= 1) {
    const float w = __shfl_xor_sync(0xffffffffu, v, o);
    v = kMax ? fmaxf(v, w) : v + w;
  }
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  __syncthreads();  // red may still be read from the previous call
  if (lane == 0) red[warp] = v;
  __syncthreads();
  if (warp == 0) {
    const int nw = blockDim.x / kWarpSize;
    v = lane < nw ? red[lane] : (kMax ? -INFINITY : 0.0f);
    for (int o = kWarpSize / 2; o > 0; o >>= 1) {
      const float w = __shfl_xor_sync(0xffffffffu, v, o);
      v = kMax ? fmaxf(v, w) : v + w;
    }
    if (lane == 0) red[0] = v;
  }
  __syncthreads();
  return red[0];
}

// One block per (b, t, h): scores of the query against keys [0, pos+t] into `scores` (fp32, one
// row of pos+T per block), softmax, then the weighted sum of values, one output element per
// thread.
__global__ void attention_decode_kernel(bf16* out, const bf16* qkv, const bf16* kc, const bf16* vc,
                                        float* scores, int T, int pos, int max_T, int NH, int NKV,
                                        int HS, float scale) {
  extern __shared__ float q[];  // HS
  __shared__ float red[kDecodeThreads / kWarpSize];
  const int task = blockIdx.x;
  const int h = task % NH, t = (task / NH) % T, b = task / (NH * T);
  const int kv = h / (NH / NKV), n_keys = pos + t + 1;
  const size_t W = size_t(NH + 2 * NKV) * HS;
  const bf16* qr = qkv + (size_t(b) * T + t) * W + size_t(h) * HS;
  for (int d = threadIdx.x; d < HS; d += blockDim.x) q[d] = to_f(qr[d]);
  __syncthreads();
  const bf16* K = kc + (size_t(b) * NKV + kv) * max_T * HS;
  const bf16* V = vc + (size_t(b) * NKV + kv) * max_T * HS;
  float* sc = scores + size_t(task) * (pos + T);
  float mx = -INFINITY;
  for (int j = threadIdx.x; j < n_keys; j += blockDim.x) {
    float s = 0.0f;
    for (int d = 0; d < HS; ++d) s += q[d] * to_f(K[size_t(j) * HS + d]);
    s *= scale;
    sc[j] = s;
    mx = fmaxf(mx, s);
  }
  mx = block_reduce<true>(mx, red);
  float sum = 0.0f;
  for (int j = threadIdx.x; j < n_keys; j += blockDim.x) {
    const float p = expf(sc[j] - mx);
    sc[j] = p;
    sum += p;
  }
  sum = block_reduce<false>(sum, red);  // its __syncthreads also publishes sc to the block
  bf16* o = out + (size_t(b) * T + t) * size_t(NH) * HS + size_t(h) * HS;
  for (int d = threadIdx.x; d < HS; d += blockDim.x) {
    float acc = 0.0f;
    for (int j = 0; j < n_keys; ++j) acc += sc[j] * to_f(V[size_t(j) * HS + d]);
    o[d] = to_bf(acc / sum);
  }
}

// In place: q and k heads of each row rotated by the angle (pos + t) * theta^(-2j/HS), computed
// in double like the rope table of rope_forward, so a cached row matches the full forward's.
__global__ void rope_at_kernel(bf16* x, int N, int T, int pos, int n_rot, int HS, size_t W,
                               double theta) {
  const int half = HS / 2;
  const size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x;
  if (i >= size_t(N) * n_rot * half) return;
  const size_t row = i / (size_t(n_rot) * half);
  const int head = int((i / half) % n_rot), j = int(i % half);
  const int t = int(row % T);
  double s, c;
  sincos(double(pos + t) * pow(theta, -2.0 * j / HS), &s, &c);
  const float cf = float(c), sf = float(s);
  bf16* p = x + row * W + size_t(head) * HS;
  const float x1 = to_f(p[j]), x2 = to_f(p[j + half]);
  p[j] = to_bf(x1 * cf - x2 * sf);
  p[j + half] = to_bf(x2 * cf + x1 * sf);
}

// One warp per (n, v): logits[n, v] = dot(x[n], w[v]) in fp32, lanes strided over C, then a
// fixed shuffle tree.
__global__ void logits_kernel(float* logits, const bf16* x, const bf16* w, int N, int C, int V) {
  const size_t gw = (blockIdx.x * size_t(blockDim.x) + threadIdx.x) / kWarpSize;
  const int lane = threadIdx.x % kWarpSize;
  if (gw >= size_t(N) * V) return;
  const size_t n = gw / V, v = gw % V;
  float acc = 0.0f;
  for (int c = lane; c < C; c += kWarpSize) acc += to_f(x[n * C + c]) * to_f(w[v * C + c]);
  for (int o = kWarpSize / 2; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
  if (lane == 0) logits[gw] = acc;
}

unsigned grid_for(size_t n, int threads) {
  return static_cast<unsigned>(ceil_div(n, size_t(threads)));
}

}  // namespace

void CudaOps::attention_decode(void* out, const void* qkv, void* k_cache, void* v_cache, int B,
                               int T, int pos, int max_T, int NH, int NKV, int HS) {
  MART_CHECK(B > 0 && T > 0 && NH > 0 && NKV > 0 && HS > 0 && NH % NKV == 0,
             "attention_decode: bad shape B=", B, " T=", T, " NH=", NH, " NKV=", NKV, " HS=", HS);
  MART_CHECK(pos >= 0 && pos + T <= max_T, "attention_decode: positions [", pos, ", ", pos + T,
             ") do not fit the KV cache of ", max_T, " positions");
  auto* kc = static_cast<bf16*>(k_cache);
  auto* vc = static_cast<bf16*>(v_cache);
  const auto* x = static_cast<const bf16*>(qkv);
  const size_t n_app = size_t(B) * T * NKV * HS;
  append_kv_kernel<<<grid_for(n_app, 256), 256, 0, stream_>>>(kc, vc, x, B, T, pos, max_T, NH, NKV,
                                                              HS);
  MART_CUDA_CHECK_LAUNCH("append_kv");
  const size_t tasks = size_t(B) * T * NH;
  auto* scores = static_cast<float*>(scratch(tasks * size_t(pos + T) * sizeof(float)));
  attention_decode_kernel<<<static_cast<unsigned>(tasks), kDecodeThreads, HS * sizeof(float),
                            stream_>>>(static_cast<bf16*>(out), x, kc, vc, scores, T, pos, max_T,
                                       NH, NKV, HS, 1.0f / std::sqrt(float(HS)));
  MART_CUDA_CHECK_LAUNCH("attention_decode");
}

void CudaOps::rope_forward_at(void* out, const void* inp, int B, int T, int pos, int NH, int NKV,
                              int HS, float theta) {
  MART_CHECK(B >= 0 && T >= 0 && NH > 0 && NKV > 0 && HS > 0 && HS % 2 == 0 && pos >= 0,
             "rope_forward_at: bad shape B=", B, " T=", T, " pos=", pos, " NH=", NH, " NKV=", NKV,
             " HS=", HS, " (HS must be even)");
  MART_CHECK(theta > 0.0f, "rope_forward_at: rope theta=", theta, " must be positive");
  if (B == 0 || T == 0) return;
  const size_t W = size_t(NH + 2 * NKV) * HS, N = size_t(B) * T;
  if (out != inp)  // v heads are copied unchanged: copy everything, then rotate in place
    MART_CUDA_CHECK(
        cudaMemcpyAsync(out, inp, N * W * sizeof(bf16), cudaMemcpyDeviceToDevice, stream_));
  const size_t n = N * (NH + NKV) * (HS / 2);
  rope_at_kernel<<<grid_for(n, 256), 256, 0, stream_>>>(static_cast<bf16*>(out), int(N), T, pos,
                                                        NH + NKV, HS, W, double(theta));
  MART_CUDA_CHECK_LAUNCH("rope_forward_at");
}

void CudaOps::logits_forward(float* logits, const void* x, const void* wout, int N, int C, int V) {
  MART_CHECK(N >= 0 && C > 0 && V > 0, "logits_forward: bad shape N=", N, " C=", C, " V=", V);
  if (N == 0) return;
  const size_t threads = size_t(N) * V * kWarpSize;
  logits_kernel<<<grid_for(threads, 256), 256, 0, stream_>>>(
      logits, static_cast<const bf16*>(x), static_cast<const bf16*>(wout), N, C, V);
  MART_CUDA_CHECK_LAUNCH("logits_forward");
}

}  // namespace mart::cuda
