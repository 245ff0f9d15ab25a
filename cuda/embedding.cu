// Token + position embedding: forward gather, deterministic sort-free backward.
//
// Backward scatter without float atomics and without knowing V (ops.h does not pass it):
//   1. insert every position's token id into an open-addressing hash table of H >= 2*B*T slots
//      (integer atomicCAS: which slot a token lands in may vary, the grouping does not), counting
//      positions per slot;
//   2. exclusive scan of the counts -> each token's bucket in a position list;
//   3. fill the buckets (order within a bucket arbitrary), then give every position its rank
//      among the bucket's positions -> each bucket sorted ascending, independent of scheduling;
//   4. the first position of each bucket sums dout over its bucket in that order (fp32) and adds
//      the sum to its wte row once.
// Work is O(B*T*C) plus O(sum over tokens of count^2) integer compares for the ranks (cheap even
// when one token fills the batch). dwpe[t] += sum over b, in b order.
#include "common/error.h"
#include "cuda/cuda_ops_impl.cuh"

namespace mart::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kAccumThreads = 128;  // 1024 columns per accumulation block

// out[n,c] = wte[ids[n], c] + wpe[n % T, c]. One thread per pack; n = b*T + t.
template <bool kVec>
__global__ void embedding_forward_kernel(bf16* out, const int32_t* ids, const bf16* wte,
                                         const bf16* wpe, int N, int T, int C) {
  const size_t packs = ceil_div(C, kPack);
  const size_t p = blockIdx.x * size_t(blockDim.x) + threadIdx.x;
  if (p >= packs * N) return;
  const int n = int(p / packs);
  const long c = long(p % packs) * kPack;
  float v[8], q[8];
  load8b<kVec>(wte + size_t(ids[n]) * C, c, C, v);
  if (wpe) {
    load8b<kVec>(wpe + size_t(n % T) * C, c, C, q);
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] += q[k];
  }
  store8b<kVec>(out + size_t(n) * C, c, C, v);
}

__device__ __forceinline__ uint32_t slot_hash(int32_t tok, int log2h) {
  return (uint32_t(tok) * 0x9E3779B1u) >> (32 - log2h);  // Fibonacci hashing: use the high bits
}

// Step 1. keys[H] (init -1), cnt[H] (init 0) -> slot[n] for every position (-1: negative id).
__global__ void bucket_insert_kernel(int* slot, int* keys, int* cnt, const int32_t* ids, int M,
                                     int log2h) {
  const int p = blockIdx.x * blockDim.x + threadIdx.x;
  if (p >= M) return;
  const int32_t tok = ids[p];
  if (tok < 0) {
    slot[p] = -1;
    return;
  }
  const uint32_t mask = (1u << log2h) - 1u;
  uint32_t h = slot_hash(tok, log2h);
  for (;;) {
    const int prev = atomicCAS(&keys[h], -1, tok);
    if (prev == -1 || prev == tok) break;
    h = (h + 1) & mask;
  }
  slot[p] = int(h);
  atomicAdd(&cnt[h], 1);
}

// Step 2, one block of 1024 threads: off[h] = sum of cnt[0..h); cnt reset to 0 for the refill.
__global__ void bucket_scan_kernel(int* off, int* cnt, int H) {
  __shared__ int warp_tot[32];
  const int tid = threadIdx.x, lane = tid % kWarpSize, warp = tid / kWarpSize;
  const int per = int(ceil_div(H, blockDim.x));
  const int start = min(H, tid * per), end = min(H, start + per);
  int local = 0;
  for (int i = start; i < end; i++) local += cnt[i];
  int incl = local;
#pragma unroll
  for (int o = 1; o < kWarpSize; o <<= 1) {
    const int y = __shfl_up_sync(0xffffffffu, incl, o);
    if (lane >= o) incl += y;
  }
  if (lane == kWarpSize - 1) warp_tot[warp] = incl;
  __syncthreads();
  if (warp == 0) {
    int t = lane < int(blockDim.x / kWarpSize) ? warp_tot[lane] : 0;
#pragma unroll
    for (int o = 1; o < kWarpSize; o <<= 1) {
      const int y = __shfl_up_sync(0xffffffffu, t, o);
      if (lane >= o) t += y;
    }
    warp_tot[lane] = t;
  }
  __syncthreads();
  int run = incl - local + (warp > 0 ? warp_tot[warp - 1] : 0);
  for (int i = start; i < end; i++) {
    const int c = cnt[i];
    off[i] = run;
    run += c;
    cnt[i] = 0;
  }
}

// Step 3a. list[off[h] + i] = p, i from a per-slot counter (order arbitrary).
__global__ void bucket_fill_kernel(int* list, int* cnt, const int* off, const int* slot, int M) {
  const int p = blockIdx.x * blockDim.x + threadIdx.x;
  if (p >= M) return;
  const int h = slot[p];
  if (h < 0) return;
  const int i = atomicAdd(&cnt[h], 1);
  list[off[h] + i] = p;
}

// Step 3b. sorted[off[h] + rank(p)] = p, rank = positions in the bucket smaller than p.
__global__ void bucket_rank_kernel(int* sorted, const int* list, const int* cnt, const int* off,
                                   const int* slot, int M) {
  const int p = blockIdx.x * blockDim.x + threadIdx.x;
  if (p >= M) return;
  const int h = slot[p];
  if (h < 0) return;
  const int o = off[h], k = cnt[h];
  int r = 0;
  for (int j = 0; j < k; j++) r += list[o + j] < p;
  sorted[o + r] = p;
}

// Step 4. grid (M, column chunks). Only the bucket's first position does the work:
// dwte[tok, c..c+8) += sum over the bucket (ascending positions) of dout[q, c..c+8).
template <bool kVec>
__global__ void bucket_accumulate_kernel(bf16* dwte, const bf16* dout, const int32_t* ids,
                                         const int* sorted, const int* cnt, const int* off,
                                         const int* slot, int C) {
  const int p = blockIdx.x;
  const int h = slot[p];
  if (h < 0) return;
  const int o = off[h];
  if (sorted[o] != p) return;
  const long c = (long(blockIdx.y) * blockDim.x + threadIdx.x) * kPack;
  if (c >= C) return;
  const int k = cnt[h];
  float acc[8] = {0};
  for (int j = 0; j < k; j++) {
    float v[8];
    load8b<kVec>(dout + size_t(sorted[o + j]) * C, c, C, v);
#pragma unroll
    for (int i = 0; i < 8; i++) acc[i] += v[i];
  }
  bf16* row = dwte + size_t(ids[p]) * C;
  float cur[8];
  load8b<kVec>(row, c, C, cur);
#pragma unroll
  for (int i = 0; i < 8; i++) cur[i] += acc[i];
  store8b<kVec>(row, c, C, cur);
}

// dwpe[t, c..c+8) += sum_b dout[b*T + t, c..c+8). grid (T, column chunks).
template <bool kVec>
__global__ void wpe_backward_kernel(bf16* dwpe, const bf16* dout, int B, int T, int C) {
  const int t = blockIdx.x;
  const long c = (long(blockIdx.y) * blockDim.x + threadIdx.x) * kPack;
  if (c >= C) return;
  float acc[8] = {0};
  for (int b = 0; b < B; b++) {
    float v[8];
    load8b<kVec>(dout + (size_t(b) * T + t) * C, c, C, v);
#pragma unroll
    for (int i = 0; i < 8; i++) acc[i] += v[i];
  }
  float cur[8];
  load8b<kVec>(dwpe + size_t(t) * C, c, C, cur);
#pragma unroll
  for (int i = 0; i < 8; i++) cur[i] += acc[i];
  store8b<kVec>(dwpe + size_t(t) * C, c, C, cur);
}

void check_shape(const char* op, int B, int T, int C) {
  MART_CHECK(B >= 0 && T >= 0 && C > 0, op, ": bad shape B=", B, " T=", T, " C=", C);
}

}  // namespace

void CudaOps::embedding_forward(void* out, const int32_t* tokens, const void* wte, const void* wpe,
                                int B, int T, int C) {
  check_shape("embedding_forward", B, T, C);
  const int N = B * T;
  if (N == 0) return;
  auto* staging = static_cast<int32_t*>(scratch(size_t(N) * sizeof(int32_t)));
  const int32_t* ids = device_ids(tokens, N, staging);
  auto* o = static_cast<bf16*>(out);
  auto* e = static_cast<const bf16*>(wte);
  auto* pe = static_cast<const bf16*>(wpe);
  const unsigned grid = unsigned(ceil_div(ceil_div(C, kPack) * N, kThreads));
  if (C % kPack == 0 && all_aligned16(o, e, pe))
    embedding_forward_kernel<true><<<grid, kThreads, 0, stream_>>>(o, ids, e, pe, N, T, C);
  else
    embedding_forward_kernel<false><<<grid, kThreads, 0, stream_>>>(o, ids, e, pe, N, T, C);
  MART_CUDA_CHECK_LAUNCH("embedding_forward");
}

void CudaOps::embedding_backward(void* dwte, void* dwpe, const void* dout, const int32_t* tokens,
                                 int B, int T, int C) {
  check_shape("embedding_backward", B, T, C);
  const int M = B * T;
  if (M == 0) return;
  int log2h = 6;
  while ((1 << log2h) < 2 * M) log2h++;
  MART_CHECK(log2h <= 30, "embedding_backward: B*T=", M, " tokens is too many for one call");
  const int H = 1 << log2h;

  ScratchLayout lay;
  const size_t o_stage = lay.reserve(size_t(M) * 4);
  const size_t o_keys = lay.reserve(size_t(H) * 4);
  const size_t o_cnt = lay.reserve(size_t(H) * 4);
  const size_t o_off = lay.reserve(size_t(H) * 4);
  const size_t o_slot = lay.reserve(size_t(M) * 4);
  const size_t o_list = lay.reserve(size_t(M) * 4);
  const size_t o_sorted = lay.reserve(size_t(M) * 4);
  char* base = static_cast<char*>(scratch(lay.total()));
  auto at = [&](size_t off) { return reinterpret_cast<int*>(base + off); };
  const int32_t* ids = device_ids(tokens, M, reinterpret_cast<int32_t*>(base + o_stage));
  int *keys = at(o_keys), *cnt = at(o_cnt), *off = at(o_off), *slot = at(o_slot);
  int *list = at(o_list), *sorted = at(o_sorted);
  auto* dw = static_cast<bf16*>(dwte);
  auto* dp = static_cast<bf16*>(dwpe);
  auto* d = static_cast<const bf16*>(dout);
  const bool vec = C % kPack == 0 && all_aligned16(dw, dp, d);

  MART_CUDA_CHECK(cudaMemsetAsync(keys, 0xff, size_t(H) * 4, stream_));  // -1: empty slot
  MART_CUDA_CHECK(cudaMemsetAsync(cnt, 0, size_t(H) * 4, stream_));
  const unsigned pos_grid = unsigned(ceil_div(M, kThreads));
  bucket_insert_kernel<<<pos_grid, kThreads, 0, stream_>>>(slot, keys, cnt, ids, M, log2h);
  MART_CUDA_CHECK_LAUNCH("bucket_insert");
  bucket_scan_kernel<<<1, 1024, 0, stream_>>>(off, cnt, H);
  MART_CUDA_CHECK_LAUNCH("bucket_scan");
  bucket_fill_kernel<<<pos_grid, kThreads, 0, stream_>>>(list, cnt, off, slot, M);
  MART_CUDA_CHECK_LAUNCH("bucket_fill");
  bucket_rank_kernel<<<pos_grid, kThreads, 0, stream_>>>(sorted, list, cnt, off, slot, M);
  MART_CUDA_CHECK_LAUNCH("bucket_rank");
  const dim3 acc_grid(unsigned(M), unsigned(ceil_div(C, kAccumThreads * kPack)));
  if (vec)
    bucket_accumulate_kernel<true>
        <<<acc_grid, kAccumThreads, 0, stream_>>>(dw, d, ids, sorted, cnt, off, slot, C);
  else
    bucket_accumulate_kernel<false>
        <<<acc_grid, kAccumThreads, 0, stream_>>>(dw, d, ids, sorted, cnt, off, slot, C);
  MART_CUDA_CHECK_LAUNCH("bucket_accumulate");

  if (dp) {
    const dim3 pe_grid(unsigned(T), unsigned(ceil_div(C, kAccumThreads * kPack)));
    if (vec)
      wpe_backward_kernel<true><<<pe_grid, kAccumThreads, 0, stream_>>>(dp, d, B, T, C);
    else
      wpe_backward_kernel<false><<<pe_grid, kAccumThreads, 0, stream_>>>(dp, d, B, T, C);
    MART_CUDA_CHECK_LAUNCH("wpe_backward");
  }
}

}  // namespace mart::cuda
