// The output head fused with softmax cross-entropy, in row chunks (llm.c's fused classifier, but
// without ever materialising the whole [N,V] logits):
//   for each chunk of R rows:
//     logits[R,Vp] (bf16, caller's workspace) = x_chunk @ wout^T          cuBLASLt
//     one block per row: online max/sum in fp32 -> loss; if dloss != 0 the row is overwritten in
//       place with dloss * (softmax - onehot)                              softmax_xent_kernel
//     dx_chunk = dlogits @ wout; dwout += dlogits^T @ x_chunk              cuBLASLt (beta = 1)
// Vp = V rounded up to 64 so every logits row starts 128-byte aligned and the kernel always uses
// 16-byte loads (the padding columns are masked and never read by the matmuls, which use V).
// R is the largest multiple of 128 rows whose logits fit in 256 MiB (at least 128, at most N).
#include <algorithm>

#include "common/error.h"
#include "cuda/cuda_ops_impl.cuh"

namespace mart::cuda {

namespace {

constexpr int kThreads = 512;
constexpr size_t kChunkBudget = size_t(256) << 20;

size_t padded_vocab(int V) {
  return round_up(size_t(V), 64);
}

int rows_per_chunk(int N, int V) {
  const size_t by_budget = kChunkBudget / (padded_vocab(V) * sizeof(bf16));
  size_t R = std::max<size_t>(128, by_budget / 128 * 128);
  return int(std::min<size_t>(R, size_t(std::max(N, 1))));
}

// Merges two online-softmax partial states (max m, sum s of exp(x - m)).
__device__ __forceinline__ void merge_state(float& m, float& s, float m2, float s2) {
  const float M = fmaxf(m, m2);
  if (M == -INFINITY) return;  // both empty
  s = s * __expf(m - M) + s2 * __expf(m2 - M);
  m = M;
}

// logits [rows, ld] bf16 with V valid columns (ld % 8 == 0, rows 16-byte aligned); targets [rows];
// losses [rows] fp32. One block per row. losses[r] = logsumexp(row) - row[target] (0 if target<0).
// dloss != 0: row := dloss * (softmax(row) - onehot(target)) (zeros if target < 0).
__global__ void __launch_bounds__(kThreads)
    softmax_xent_kernel(bf16* logits, float* losses, const int32_t* targets, int V, size_t ld,
                        float dloss) {
  __shared__ float sm_m[32], sm_s[32];
  const int row = blockIdx.x;
  bf16* l = logits + size_t(row) * ld;
  const int target = targets[row];
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;

  float m = -INFINITY, s = 0.0f;
  for (long c = long(threadIdx.x) * kPack; c < V; c += long(blockDim.x) * kPack) {
    float v[8];
    load8(l + c, v);
    float pm = -INFINITY;
#pragma unroll
    for (int k = 0; k < 8; k++)
      if (c + k < V) pm = fmaxf(pm, v[k]);
    const float M = fmaxf(m, pm);
    float ps = 0.0f;
#pragma unroll
    for (int k = 0; k < 8; k++)
      if (c + k < V) ps += __expf(v[k] - M);
    s = (m == -INFINITY ? 0.0f : s * __expf(m - M)) + ps;
    m = M;
  }
  // Combine across the warp, then across warps in warp order (deterministic).
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float m2 = __shfl_xor_sync(0xffffffffu, m, o);
    const float s2 = __shfl_xor_sync(0xffffffffu, s, o);
    merge_state(m, s, m2, s2);
  }
  if (lane == 0) {
    sm_m[warp] = m;
    sm_s[warp] = s;
  }
  __syncthreads();
  float M = sm_m[0], S = sm_s[0];
  for (int w = 1; w < int(blockDim.x / kWarpSize); w++) merge_state(M, S, sm_m[w], sm_s[w]);
  const float lse = M + logf(S);
  // A target >= V is bad data: NaN loss (so it shows), zero gradient.
  const bool valid = target >= 0 && target < V;
  if (threadIdx.x == 0) losses[row] = valid ? lse - to_f(l[target]) : (target < 0 ? 0.0f : NAN);
  if (dloss == 0.0f) return;
  __syncthreads();  // every thread has read l[target] before anyone overwrites it
  for (long c = long(threadIdx.x) * kPack; c < long(ld); c += long(blockDim.x) * kPack) {
    float v[8];
    load8(l + c, v);
#pragma unroll
    for (int k = 0; k < 8; k++) {
      const long j = c + k;
      const float p = __expf(v[k] - lse);
      v[k] = (!valid || j >= V) ? 0.0f : dloss * (p - (j == target ? 1.0f : 0.0f));
    }
    store8(l + c, v);
  }
}

}  // namespace

size_t CudaOps::classifier_workspace_bytes(int N, int V) const {
  if (N <= 0 || V <= 0) return 0;
  return round_up(size_t(rows_per_chunk(N, V)) * padded_vocab(V) * sizeof(bf16), 256);
}

void CudaOps::classifier_forward_backward(float* losses, void* dx, void* dwout, const void* x,
                                          const void* wout, const int32_t* targets, int N, int C,
                                          int V, float dloss, void* workspace) {
  MART_CHECK(N >= 0 && C > 0 && V > 0, "classifier_forward_backward: bad shape N=", N, " C=", C,
             " V=", V);
  if (N == 0) return;
  MART_CHECK(workspace != nullptr && aligned16(workspace),
             "classifier_forward_backward: workspace must be a 16-byte aligned device buffer of "
             "classifier_workspace_bytes(N, V) = ",
             classifier_workspace_bytes(N, V), " bytes");
  const bool backward = dloss != 0.0f;
  MART_CHECK(!backward || (dx && dwout),
             "classifier_forward_backward: dloss != 0 needs dx and dwout");
  const int R = rows_per_chunk(N, V);
  const size_t Vp = padded_vocab(V);
  auto* staging = static_cast<int32_t*>(scratch(size_t(N) * sizeof(int32_t)));
  const int32_t* tg = device_ids(targets, N, staging);
  auto* logits = static_cast<bf16*>(workspace);
  auto* xb = static_cast<const bf16*>(x);
  auto* wb = static_cast<const bf16*>(wout);

  for (int r0 = 0; r0 < N; r0 += R) {
    const int rows = std::min(R, N - r0);
    Gemm fwd;  // logits(m=V, n=rows) = op(wout, T) @ x_chunk
    fwd.trans_a = true;
    fwd.m = V;
    fwd.n = rows;
    fwd.k = C;
    fwd.a = wb;
    fwd.lda = C;
    fwd.b = xb + size_t(r0) * C;
    fwd.ldb = C;
    fwd.d = logits;
    fwd.ldd = int(Vp);
    MART_CHECK(gemm(fwd),
               "classifier: cuBLASLt has no algorithm for the logits matmul (rows=", rows, " C=", C,
               " V=", V, ")");

    softmax_xent_kernel<<<rows, kThreads, 0, stream_>>>(logits, losses + r0, tg + r0, V, Vp, dloss);
    MART_CUDA_CHECK_LAUNCH("softmax_xent");
    if (!backward) continue;

    Gemm gx;  // dx_chunk(m=C, n=rows) = wout(as [C,V]) @ dlogits(as [V,rows])
    gx.m = C;
    gx.n = rows;
    gx.k = V;
    gx.a = wb;
    gx.lda = C;
    gx.b = logits;
    gx.ldb = int(Vp);
    gx.d = static_cast<bf16*>(dx) + size_t(r0) * C;
    gx.ldd = C;
    MART_CHECK(gemm(gx), "classifier: cuBLASLt has no algorithm for the dx matmul");

    Gemm gw;  // dwout(as [C,V]) += x_chunk(as [C,rows]) @ op(dlogits, T)
    gw.trans_b = true;
    gw.m = C;
    gw.n = V;
    gw.k = rows;
    gw.a = xb + size_t(r0) * C;
    gw.lda = C;
    gw.b = logits;
    gw.ldb = int(Vp);
    gw.d = static_cast<bf16*>(dwout);
    gw.ldd = C;
    gw.beta = 1.0f;
    MART_CHECK(gemm(gw), "classifier: cuBLASLt has no algorithm for the dwout matmul");
  }
}

}  // namespace mart::cuda
