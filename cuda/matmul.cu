// Linear layers through cuBLASLt: bf16 operands, fp32 compute, bf16 results, with bias and
// GELU(+aux) epilogues fused where cuBLASLt has a kernel for them.
//
// Row-major to column-major: our tensors are row-major (out[N,OC], w[OC,IC]), cuBLASLt is
// column-major, and a row-major [R,C] matrix is the column-major [C,R] one. So
//   forward  out[N,OC] = inp @ w^T      ->  out^T[OC,N] = (w^T... as stored [IC,OC])^T @ inp^T
//            i.e. D(m=OC,n=N) = op(A=w, T) @ B=inp,                k = IC
//   dinp     dinp[N,IC] = dout @ w      ->  D(m=IC,n=N) = A=w @ B=dout,    k = OC
//   dW       dw[OC,IC] += dout^T @ inp  ->  D(m=IC,n=OC) = A=inp @ op(B=dout, T), k = N, beta = 1
// Descriptors and the heuristic's algorithm are created once per (shape, layout, epilogue,
// alignment of every pointer, aux included) and cached; the only workspace is the fixed 32 MiB
// buffer made at construction. dbias uses MART's deterministic column reduction: cuBLASLt's BGRADB
// epilogue overwrites the bias gradient, while ops.h needs +=.
#include <map>
#include <tuple>

#include "common/error.h"
#include "cuda/cuda_ops_impl.cuh"

namespace mart::cuda {

namespace {

// Largest power of two <= 256 dividing the address: what cuBLASLt may assume about a pointer.
uint32_t alignment_of(const void* p) {
  if (!p) return 256;
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  uint32_t al = 256;
  while (al > 1 && (a % al) != 0) al >>= 1;
  return al;
}

cublasLtEpilogue_t to_lt(Epilogue e) {
  switch (e) {
    case Epilogue::None:
      return CUBLASLT_EPILOGUE_DEFAULT;
    case Epilogue::Bias:
      return CUBLASLT_EPILOGUE_BIAS;
    case Epilogue::GeluAux:
      return CUBLASLT_EPILOGUE_GELU_AUX;
    case Epilogue::GeluAuxBias:
      return CUBLASLT_EPILOGUE_GELU_AUX_BIAS;
  }
  return CUBLASLT_EPILOGUE_DEFAULT;
}

// (trans_a, trans_b, m, n, k, lda, ldb, ldd, epilogue, beta != 0, alignment of a, b, d, bias,
//  aux, aux_ld): everything the descriptors or the heuristic's choice depend on. The aux alignment
// is there because the heuristic runs with the bias and aux pointers already in the descriptor
// and has no preference attribute for the aux alignment: its choice for a 256-byte aligned aux
// buffer must not be reused for one that is only 16-byte aligned.
using LtKey = std::tuple<bool, bool, int, int, int, int, int, int, int, bool, uint32_t, uint32_t,
                         uint32_t, uint32_t, uint32_t, int>;

struct LtPlan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo{};
  bool ok = false;
};

}  // namespace

struct LtCache {
  std::map<LtKey, LtPlan> plans;
  ~LtCache() {
    for (auto& kv : plans) {
      LtPlan& p = kv.second;
      if (p.desc) cublasLtMatmulDescDestroy(p.desc);
      if (p.a) cublasLtMatrixLayoutDestroy(p.a);
      if (p.b) cublasLtMatrixLayoutDestroy(p.b);
      if (p.d) cublasLtMatrixLayoutDestroy(p.d);
    }
  }
};
void LtCacheDeleter::operator()(LtCache* p) const {
  delete p;
}

bool CudaOps::gemm(const Gemm& g) {
  if (g.m == 0 || g.n == 0) return true;
  MART_CHECK(g.k > 0, "gemm: k must be positive (m=", g.m, " n=", g.n, " k=", g.k, ")");
  if (!lt_cache_) lt_cache_.reset(new LtCache);
  const bool gelu = g.epilogue == Epilogue::GeluAux || g.epilogue == Epilogue::GeluAuxBias;
  const bool bias = g.epilogue == Epilogue::Bias || g.epilogue == Epilogue::GeluAuxBias;
  if (gelu && (g.aux_ld % 8 != 0 || !aligned16(g.aux))) return false;  // cuBLASLt aux limits
  const LtKey key{g.trans_a,
                  g.trans_b,
                  g.m,
                  g.n,
                  g.k,
                  g.lda,
                  g.ldb,
                  g.ldd,
                  int(g.epilogue),
                  g.beta != 0.0f,
                  alignment_of(g.a),
                  alignment_of(g.b),
                  alignment_of(g.d),
                  alignment_of(g.bias),
                  alignment_of(g.aux),
                  g.aux_ld};
  auto it = lt_cache_->plans.find(key);
  const bool fresh = it == lt_cache_->plans.end();
  if (fresh) it = lt_cache_->plans.emplace(key, LtPlan{}).first;
  LtPlan& p = it->second;

  if (fresh) {
    MART_CUBLAS_CHECK(cublasLtMatmulDescCreate(&p.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t ta = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t tb = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    MART_CUBLAS_CHECK(
        cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
    MART_CUBLAS_CHECK(
        cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
    const cublasLtEpilogue_t epi = to_lt(g.epilogue);
    MART_CUBLAS_CHECK(
        cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
    if (gelu) {
      const int64_t ld = g.aux_ld;
      MART_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD,
                                                       &ld, sizeof(ld)));
    }
    // Stored shapes (column-major): op(A) is m x k, op(B) is k x n.
    MART_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.a, CUDA_R_16BF, g.trans_a ? g.k : g.m,
                                                 g.trans_a ? g.m : g.k, g.lda));
    MART_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.b, CUDA_R_16BF, g.trans_b ? g.n : g.k,
                                                 g.trans_b ? g.k : g.n, g.ldb));
    MART_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.d, CUDA_R_16BF, g.m, g.n, g.ldd));
  }
  // Per-call pointers live in the descriptor.
  if (bias)
    MART_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                                     &g.bias, sizeof(g.bias)));
  if (gelu)
    MART_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(
        p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &g.aux, sizeof(g.aux)));

  if (fresh) {
    cublasLtMatmulPreference_t pref = nullptr;
    MART_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    const uint64_t ws = kLtWorkspaceBytes;
    MART_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)));
    const uint32_t al_a = alignment_of(g.a), al_b = alignment_of(g.b), al_d = alignment_of(g.d);
    MART_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a, sizeof(al_a)));
    MART_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b, sizeof(al_b)));
    MART_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_d, sizeof(al_d)));
    MART_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_d, sizeof(al_d)));
    cublasLtMatmulHeuristicResult_t res{};
    int count = 0;
    const cublasStatus_t st =
        cublasLtMatmulAlgoGetHeuristic(lt_, p.desc, p.a, p.b, p.d, p.d, pref, 1, &res, &count);
    cublasLtMatmulPreferenceDestroy(pref);
    if (st == CUBLAS_STATUS_SUCCESS && count > 0) {
      p.algo = res.algo;
      p.ok = true;
    } else if (st != CUBLAS_STATUS_SUCCESS && st != CUBLAS_STATUS_NOT_SUPPORTED) {
      cuda_detail::cublas_fail(__FILE__, __LINE__, "cublasLtMatmulAlgoGetHeuristic", st);
    }
  }
  if (!p.ok) return false;
  const float alpha = 1.0f, beta = g.beta;
  MART_CUBLAS_CHECK(cublasLtMatmul(lt_, p.desc, &alpha, g.a, p.a, g.b, p.b, &beta, g.d, p.d, g.d,
                                   p.d, &p.algo, lt_ws_, kLtWorkspaceBytes, stream_));
  return true;
}

namespace {

constexpr int kColTile = 256;  // 32 lanes x 8 columns
constexpr int kColWarps = 8;

// out[N,OC] += bias[OC] (the unfused fallback for the bias epilogue). One thread per pack.
template <bool kVec>
__global__ void add_bias_kernel(bf16* out, const bf16* bias, int N, int OC) {
  const size_t packs = ceil_div(OC, kPack);
  const size_t p = blockIdx.x * size_t(blockDim.x) + threadIdx.x;
  if (p >= packs * N) return;
  const size_t row = p / packs;
  const long c = long(p % packs) * kPack;
  float v[8], b[8];
  load8b<kVec>(out + row * OC, c, OC, v);
  load8b<kVec>(bias, c, OC, b);
#pragma unroll
  for (int k = 0; k < 8; k++) v[k] += b[k];
  store8b<kVec>(out + row * OC, c, OC, v);
}

// partial[slice, c] = sum over the slice's rows of dout[r, c] (fixed order: warp w takes rows
// w, w+8, ...; warps combined in order). grid (column tiles, slices), 256 threads.
template <bool kVec>
__global__ void column_sum_partial_kernel(float* partial, const bf16* dout, int N, int C,
                                          int rows_per_slice) {
  __shared__ float red[kColWarps][kColTile];
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const long c = long(blockIdx.x) * kColTile + lane * kPack;
  const int r0 = blockIdx.y * rows_per_slice;
  const int r1 = min(N, r0 + rows_per_slice);
  float acc[8] = {0};
  if (c < C) {
    for (int r = r0 + warp; r < r1; r += kColWarps) {
      float v[8];
      load8b<kVec>(dout + size_t(r) * C, c, C, v);
#pragma unroll
      for (int k = 0; k < 8; k++) acc[k] += v[k];
    }
  }
#pragma unroll
  for (int k = 0; k < 8; k++) red[warp][lane * kPack + k] = acc[k];
  __syncthreads();
  const long col = long(blockIdx.x) * kColTile + threadIdx.x;
  if (col < C) {
    float s = 0.0f;
#pragma unroll
    for (int i = 0; i < kColWarps; i++) s += red[i][threadIdx.x];
    partial[size_t(blockIdx.y) * C + col] = s;
  }
}

void check_shape(const char* op, int N, int IC, int OC) {
  MART_CHECK(N >= 0 && IC > 0 && OC > 0, op, ": bad shape N=", N, " IC=", IC, " OC=", OC,
             " (need N >= 0, IC > 0, OC > 0)");
}

}  // namespace

void CudaOps::bias_backward(bf16* dbias, const bf16* dout, int N, int OC) {
  const int S = column_slices(N, OC);
  auto* partial = static_cast<float*>(scratch(size_t(S) * OC * sizeof(float)));
  const dim3 grid(unsigned(ceil_div(OC, kColTile)), unsigned(S));
  const int rows_per_slice = int(ceil_div(N, S));
  if (OC % kPack == 0 && all_aligned16(dout))
    column_sum_partial_kernel<true>
        <<<grid, kColTile, 0, stream_>>>(partial, dout, N, OC, rows_per_slice);
  else
    column_sum_partial_kernel<false>
        <<<grid, kColTile, 0, stream_>>>(partial, dout, N, OC, rows_per_slice);
  MART_CUDA_CHECK_LAUNCH("column_sum_partial");
  finalize_column_sums(dbias, partial, nullptr, nullptr, S, OC);
}

void CudaOps::matmul_forward(void* out, void* gelu_out, const void* inp, const void* w,
                             const void* bias, int N, int IC, int OC) {
  check_shape("matmul_forward", N, IC, OC);
  if (N == 0) return;
  auto* o = static_cast<bf16*>(out);
  auto* go = static_cast<bf16*>(gelu_out);
  auto* b = static_cast<const bf16*>(bias);
  Gemm g;
  g.trans_a = true;
  g.m = OC;
  g.n = N;
  g.k = IC;
  g.a = static_cast<const bf16*>(w);
  g.lda = IC;
  g.b = static_cast<const bf16*>(inp);
  g.ldb = IC;
  g.ldd = OC;
  g.bias = b;
  if (go) {  // fused: D = gelu(AB + bias) -> gelu_out, aux = AB + bias -> out
    g.d = go;
    g.aux = o;
    g.aux_ld = OC;
    g.epilogue = b ? Epilogue::GeluAuxBias : Epilogue::GeluAux;
    if (gemm(g)) return;
  } else if (b) {
    g.d = o;
    g.epilogue = Epilogue::Bias;
    if (gemm(g)) return;
  }
  // Unfused: plain matmul into out, then bias and GELU as separate kernels.
  g.d = o;
  g.epilogue = Epilogue::None;
  g.bias = nullptr;
  g.aux = nullptr;
  g.aux_ld = 0;
  MART_CHECK(gemm(g), "matmul_forward: cuBLASLt has no algorithm for N=", N, " IC=", IC, " OC=", OC,
             " (bf16, fp32 compute); check pointer alignment (16 bytes)");
  if (b) {
    const unsigned grid = unsigned(ceil_div(ceil_div(OC, kPack) * N, 256));
    if (OC % kPack == 0 && all_aligned16(o, b))
      add_bias_kernel<true><<<grid, 256, 0, stream_>>>(o, b, N, OC);
    else
      add_bias_kernel<false><<<grid, 256, 0, stream_>>>(o, b, N, OC);
    MART_CUDA_CHECK_LAUNCH("add_bias");
  }
  if (go) gelu_forward(go, o, size_t(N) * OC);
}

void CudaOps::matmul_backward(void* dinp, void* dw, void* dbias, const void* dout, const void* inp,
                              const void* w, int N, int IC, int OC) {
  check_shape("matmul_backward", N, IC, OC);
  if (N == 0) return;
  auto* d = static_cast<const bf16*>(dout);
  if (dbias) bias_backward(static_cast<bf16*>(dbias), d, N, OC);
  if (dinp) {
    Gemm g;
    g.m = IC;
    g.n = N;
    g.k = OC;
    g.a = static_cast<const bf16*>(w);
    g.lda = IC;
    g.b = d;
    g.ldb = OC;
    g.d = static_cast<bf16*>(dinp);
    g.ldd = IC;
    MART_CHECK(gemm(g), "matmul_backward (dinp): cuBLASLt has no algorithm for N=", N, " IC=", IC,
               " OC=", OC);
  }
  if (dw) {
    Gemm g;
    g.trans_b = true;
    g.m = IC;
    g.n = OC;
    g.k = N;
    g.a = static_cast<const bf16*>(inp);
    g.lda = IC;
    g.b = d;
    g.ldb = OC;
    g.d = static_cast<bf16*>(dw);
    g.ldd = IC;
    g.beta = 1.0f;
    MART_CHECK(gemm(g), "matmul_backward (dw): cuBLASLt has no algorithm for N=", N, " IC=", IC,
               " OC=", OC);
  }
}

}  // namespace mart::cuda
