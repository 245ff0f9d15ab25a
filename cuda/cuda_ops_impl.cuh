// CudaOps: the class behind make_cuda_ops (cuda/cuda_ops.h). Internal to kernels/cuda/;
// each .cu file there implements one family of its methods:
//   cuda_ops.cu        construction, workspaces, id staging, factory
//   elementwise.cu     gelu, swiglu, add, scale, rope
//   norm.cu            layernorm, rmsnorm (+ the deterministic column-sum finaliser)
//   embedding.cu       embedding forward, deterministic sort-free backward
//   matmul.cu          cuBLASLt wrapper (cached heuristics, fused epilogues), matmul ops, dbias
//   classifier.cu      chunked output head + fused softmax cross-entropy
//   optimizer.cu       AdamW, sumsq
//   attention_cudnn.cu cuDNN SDPA graphs (forward + backward) and the attention dispatch
//   attention_fallback.cu  MART's own attention kernels, for shapes cuDNN rejects
//   decode.cu          generation: attention against a KV cache, rope at an offset, logits
#pragma once
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "cuda/common.cuh"
#include "cuda/cuda_check.h"
#include "device/device.h"
#include "kernels/ops.h"

namespace mart::cuda {

// One cuBLASLt matmul in column-major terms: D[m,n] = alpha * op(A) @ op(B) + beta * D, with the
// optional epilogue. Row-major callers swap operands (see matmul.cu).
enum class Epilogue { None, Bias, GeluAux, GeluAuxBias };
struct Gemm {
  bool trans_a = false, trans_b = false;
  int m = 0, n = 0, k = 0;
  const bf16* a = nullptr;
  int lda = 0;
  const bf16* b = nullptr;
  int ldb = 0;
  bf16* d = nullptr;
  int ldd = 0;
  float beta = 0.0f;  // 0: overwrite D; 1: accumulate into D
  Epilogue epilogue = Epilogue::None;
  const bf16* bias = nullptr;  // [m], for Bias / GeluAuxBias
  bf16* aux = nullptr;         // [m, n] pre-activation, ld = aux_ld, for GeluAux*
  int aux_ld = 0;
};

struct LtCache;
struct LtCacheDeleter {
  void operator()(LtCache* p) const;
};
struct SdpaPlans;
struct SdpaPlansDeleter {
  void operator()(SdpaPlans* p) const;
};

class CudaOps final : public Ops {
 public:
  explicit CudaOps(Device& dev);
  ~CudaOps() override;
  CudaOps(const CudaOps&) = delete;
  CudaOps& operator=(const CudaOps&) = delete;

  DType act_dtype() const override { return DType::BF16; }
  const char* name() const override { return "cuda"; }

  void embedding_forward(void* out, const int32_t* tokens, const void* wte, const void* wpe, int B,
                         int T, int C) override;
  void embedding_backward(void* dwte, void* dwpe, const void* dout, const int32_t* tokens, int B,
                          int T, int C) override;
  void layernorm_forward(void* out, float* mean, float* rstd, const void* inp, const void* w,
                         const void* b, int N, int C, float eps) override;
  void layernorm_backward(void* dinp, void* dw, void* db, const void* dout, const void* inp,
                          const void* w, const float* mean, const float* rstd, int N,
                          int C) override;
  void rmsnorm_forward(void* out, float* rstd, const void* inp, const void* w, int N, int C,
                       float eps) override;
  void rmsnorm_backward(void* dinp, void* dw, const void* dout, const void* inp, const void* w,
                        const float* rstd, int N, int C) override;
  void matmul_forward(void* out, void* gelu_out, const void* inp, const void* w, const void* bias,
                      int N, int IC, int OC) override;
  void matmul_backward(void* dinp, void* dw, void* dbias, const void* dout, const void* inp,
                       const void* w, int N, int IC, int OC) override;
  void attention_forward(void* out, float* lse, const void* qkv, int B, int T, int NH, int NKV,
                         int HS) override;
  void attention_backward(void* dqkv, const void* dout, const void* qkv, const void* out,
                          const float* lse, int B, int T, int NH, int NKV, int HS) override;
  void rope_forward(void* out, const void* inp, int B, int T, int NH, int NKV, int HS,
                    float theta) override;
  void rope_backward(void* dinp, const void* dout, int B, int T, int NH, int NKV, int HS,
                     float theta) override;
  void gelu_forward(void* out, const void* inp, size_t n) override;
  void gelu_backward(void* dinp, const void* inp, const void* dout, size_t n) override;
  void swiglu_forward(void* out, const void* inp, int N, int F) override;
  void swiglu_backward(void* dinp, const void* dout, const void* inp, int N, int F) override;
  void add(void* out, const void* a, const void* b, size_t n) override;
  void classifier_forward_backward(float* losses, void* dx, void* dwout, const void* x,
                                   const void* wout, const int32_t* targets, int N, int C, int V,
                                   float dloss, void* workspace) override;
  size_t classifier_workspace_bytes(int N, int V) const override;
  void adamw_update(void* param, float* master, const void* grad, float* m, float* v, size_t n,
                    const AdamWHyper& h, uint64_t seed) override;
  void sumsq(float* out, const void* x, size_t n) override;
  void scale(void* x, float s, size_t n) override;
  // Decoding (decode.cu).
  void attention_decode(void* out, const void* qkv, void* k_cache, void* v_cache, int B, int T,
                        int pos, int max_T, int NH, int NKV, int HS) override;
  void rope_forward_at(void* out, const void* inp, int B, int T, int pos, int NH, int NKV, int HS,
                       float theta) override;
  void logits_forward(float* logits, const void* x, const void* wout, int N, int C, int V) override;

  // ---- infrastructure shared by the op files -------------------------------------------------
  cudaStream_t stream() const { return stream_; }
  int sm_count() const { return sm_count_; }
  // The shared scratch buffer, at least `bytes` long (grown as documented in cuda_ops.h). Valid
  // until the next call to scratch(); an op takes it once and carves it up.
  void* scratch(size_t bytes);
  // Small fixed device buffer (64 KiB) for reduction partials that need no more.
  void* small_buffer() const { return small_; }
  static constexpr size_t kSmallBytes = 64 << 10;
  // A device-readable pointer to n int32 ids: p itself if device/pinned memory, else a copy of the
  // host data enqueued into `staging` (device memory of n ints).
  const int32_t* device_ids(const int32_t* p, size_t n, int32_t* staging);
  size_t private_bytes() const;
  // "" if this attention shape runs on cuDNN, else the reason it does not (see cuda_ops.h).
  std::string attention_status(bool backward, int B, int T, int NH, int NKV, int HS);

  // cuBLASLt matmul; returns false (and does nothing) when cuBLASLt has no algorithm for this
  // epilogue, so the caller can fall back to an unfused form. Throws on real errors.
  bool gemm(const Gemm& g);
  // dbias[OC] += column sums of dout[N,OC] (deterministic two-stage reduction).
  void bias_backward(bf16* dbias, const bf16* dout, int N, int OC);
  // dst[C] += sum over S slices of partial[s*C + c] (fixed order). dst2/partial2 optional.
  void finalize_column_sums(bf16* dst, const float* partial, bf16* dst2, const float* partial2,
                            int S, int C);
  // The number of row slices the deterministic column reductions split N rows into; a function of
  // (N, C) only, so results do not depend on the GPU model.
  static int column_slices(int N, int C);

  // Own attention kernels (attention_fallback.cu); always available, used when cuDNN is not.
  void attention_forward_fallback(bf16* out, float* lse, const bf16* qkv, int B, int T, int NH,
                                  int NKV, int HS);
  void attention_backward_fallback(bf16* dqkv, const bf16* dout, const bf16* qkv, const bf16* out,
                                   const float* lse, int B, int T, int NH, int NKV, int HS);

 private:
  Device& dev_;
  cudaStream_t stream_ = nullptr;
  int sm_count_ = 0;
  cublasLtHandle_t lt_ = nullptr;
  void* lt_ws_ = nullptr;
  static constexpr size_t kLtWorkspaceBytes = 32u << 20;
  void* small_ = nullptr;
  void* scratch_ = nullptr;
  size_t scratch_bytes_ = 0;
  std::unique_ptr<LtCache, LtCacheDeleter> lt_cache_;

  // Attention: cuDNN handle (null if cuDNN failed to initialise) and plan cache.
  cudnnHandle_t dnn_ = nullptr;
  std::string dnn_error_;   // why cuDNN is unavailable, if it is
  int attention_mode_ = 0;  // 0 auto, 1 cudnn only, 2 fallback only (MART_ATTENTION)
  bool cudnn_deterministic_ = false;
  std::unique_ptr<SdpaPlans, SdpaPlansDeleter> sdpa_;
  friend struct SdpaPlans;
};

// Carves one scratch allocation into 256-byte aligned pieces: first reserve() every piece to learn
// the total, then take() them in the same order from the base pointer.
class ScratchLayout {
 public:
  size_t reserve(size_t bytes) {
    const size_t at = total_;
    total_ += round_up(bytes, 256);
    return at;
  }
  size_t total() const { return total_; }

 private:
  size_t total_ = 0;
};

}  // namespace mart::cuda
