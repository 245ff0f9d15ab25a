// The compute-op interface. One implementation per backend:
//   kernels/cpu  (CpuOps):  fp32 reference, OpenMP + OpenBLAS; runs inline on the calling thread.
//   cuda/ (CudaOps): bf16 storage, fp32 accumulation, cuBLASLt + cuDNN; runs on a stream.
// Shapes follow llm.c: B batch, T sequence, C width, N = B*T rows, V vocab, NH query heads,
// NKV key/value heads, HS head size, F ffn width. "act" buffers hold act_dtype() elements
// (F32 on CPU, BF16 on CUDA); statistics (mean, rstd, lse) and losses are always fp32.
// Gradient convention: parameter gradients always ACCUMULATE (+=), so micro-batches add up;
// input gradients are OVERWRITTEN unless the comment says "accumulates".
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/dtype.h"

namespace mart {

struct AdamWHyper {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;  // decoupled; the caller passes 0 for params it must not decay
  int step = 1;               // 1-based, for bias correction
  float grad_scale = 1.0f;    // multiplies every gradient first (clipping, loss-scale undo)
};

class Ops {
 public:
  virtual ~Ops() = default;
  virtual DType act_dtype() const = 0;
  virtual const char* name() const = 0;
  // Bytes per element of the statistics and loss buffers (typed float* below): 4 everywhere
  // except the F64 reference backend (tests only), whose statistics are doubles.
  virtual size_t stat_size() const { return 4; }

  // out[B,T,C] = wte[tokens[b,t]] + (wpe ? wpe[t] : 0). tokens are host-or-device int32 [B,T].
  virtual void embedding_forward(void* out, const int32_t* tokens, const void* wte, const void* wpe,
                                 int B, int T, int C) = 0;
  // dwte[V,C] += scatter(dout), dwpe[T,C] += sum_b dout (dwpe may be null).
  virtual void embedding_backward(void* dwte, void* dwpe, const void* dout, const int32_t* tokens,
                                  int B, int T, int C) = 0;

  // LayerNorm over rows: out[N,C], mean[N], rstd[N]. b may be null.
  virtual void layernorm_forward(void* out, float* mean, float* rstd, const void* inp,
                                 const void* w, const void* b, int N, int C, float eps) = 0;
  // dinp[N,C] ACCUMULATES (it is the residual stream's gradient); dw, db += (db may be null).
  virtual void layernorm_backward(void* dinp, void* dw, void* db, const void* dout, const void* inp,
                                  const void* w, const float* mean, const float* rstd, int N,
                                  int C) = 0;
  // RMSNorm: out[N,C] = inp * rstd * w, rstd[N].
  virtual void rmsnorm_forward(void* out, float* rstd, const void* inp, const void* w, int N, int C,
                               float eps) = 0;
  // dinp ACCUMULATES; dw +=.
  virtual void rmsnorm_backward(void* dinp, void* dw, const void* dout, const void* inp,
                                const void* w, const float* rstd, int N, int C) = 0;

  // out[N,OC] = inp[N,IC] @ w[OC,IC]^T + bias[OC] (bias may be null). With gelu_out non-null
  // (fused epilogue): out holds the pre-activation and gelu_out[N,OC] = gelu_tanh(out).
  virtual void matmul_forward(void* out, void* gelu_out, const void* inp, const void* w,
                              const void* bias, int N, int IC, int OC) = 0;
  // dinp[N,IC] = dout @ w (overwritten; skipped if dinp null); dw[OC,IC] += dout^T @ inp;
  // dbias[OC] += colsum(dout) (skipped if null).
  virtual void matmul_backward(void* dinp, void* dw, void* dbias, const void* dout, const void* inp,
                               const void* w, int N, int IC, int OC) = 0;

  // Causal scaled-dot-product attention with grouped-query heads. qkv[B,T,(NH+2*NKV)*HS] holds
  // per row the NH query heads, then NKV key heads, then NKV value heads; query head h uses kv head
  // h / (NH/NKV). out[B,T,NH*HS]; lse[B,NH,T] = logsumexp of the scaled scores (saved for
  // backward).
  virtual void attention_forward(void* out, float* lse, const void* qkv, int B, int T, int NH,
                                 int NKV, int HS) = 0;
  // dqkv[B,T,(NH+2NKV)*HS] overwritten.
  virtual void attention_backward(void* dqkv, const void* dout, const void* qkv, const void* out,
                                  const float* lse, int B, int T, int NH, int NKV, int HS) = 0;

  // Rotary embedding, rotate-half convention: for each q and k head, pairs (j, j+HS/2) are rotated
  // by angle t * theta^(-2j/HS). The v part is copied unchanged. out == inp is allowed.
  virtual void rope_forward(void* out, const void* inp, int B, int T, int NH, int NKV, int HS,
                            float theta) = 0;
  // dinp = inverse rotation of dout (v part copied). dinp == dout is allowed.
  virtual void rope_backward(void* dinp, const void* dout, int B, int T, int NH, int NKV, int HS,
                             float theta) = 0;

  // GELU, tanh approximation, elementwise over n.
  virtual void gelu_forward(void* out, const void* inp, size_t n) = 0;
  virtual void gelu_backward(void* dinp, const void* inp, const void* dout, size_t n) = 0;
  // SwiGLU: inp[N,2F] = [gate | up] per row; out[N,F] = silu(gate) * up.
  virtual void swiglu_forward(void* out, const void* inp, int N, int F) = 0;
  virtual void swiglu_backward(void* dinp, const void* dout, const void* inp, int N, int F) = 0;
  // out = a + b over n elements (out may alias a or b).
  virtual void add(void* out, const void* a, const void* b, size_t n) = 0;

  // Output head fused with softmax cross-entropy, processed in row chunks so the full [N,V] logits
  // never exist at once: logits = x[N,C] @ wout[V,C]^T; losses[n] = -log
  // softmax(logits_n)[target_n] (0 where target < 0). If dloss != 0 the gradient of dloss *
  // sum(losses) is produced: dx[N,C] overwritten, dwout[V,C] +=. workspace must hold
  // classifier_workspace_bytes(N, V).
  virtual void classifier_forward_backward(float* losses, void* dx, void* dwout, const void* x,
                                           const void* wout, const int32_t* targets, int N, int C,
                                           int V, float dloss, void* workspace) = 0;
  virtual size_t classifier_workspace_bytes(int N, int V) const = 0;

  // AdamW on n elements. param is act_dtype; master (fp32) may be null when param itself is fp32
  // (CPU backend). grad is act_dtype; m, v fp32. seed drives stochastic rounding where used.
  virtual void adamw_update(void* param, float* master, const void* grad, float* m, float* v,
                            size_t n, const AdamWHyper& h, uint64_t seed) = 0;
  // *out = sum of squares of x[n] (fp32 result written to device memory; deterministic order).
  virtual void sumsq(float* out, const void* x, size_t n) = 0;
  // x[n] *= s.
  virtual void scale(void* x, float s, size_t n) = 0;

  // ---- decoding (generation with a KV cache; runtime/generate/) --------------------------------
  // Not pure: a backend that does not decode (the layout-only planning ops) inherits these, which
  // throw mart::Error naming the backend and the op.
  //
  // One layer's KV cache: k_cache and v_cache [B, NKV, max_T, HS] act dtype. Appends the k and v
  // heads of qkv[B,T,(NH+2NKV)*HS] (rows = positions pos..pos+T-1) at cache positions
  // [pos, pos+T), then out[B,T,NH*HS] = causal attention of each new query (position pos+t) over
  // the cached keys [0, pos+t], scale 1/sqrt(HS), grouped-query heads as attention_forward.
  // Requires 0 <= pos and pos + T <= max_T.
  virtual void attention_decode(void* out, const void* qkv, void* k_cache, void* v_cache, int B,
                                int T, int pos, int max_T, int NH, int NKV, int HS);
  // rope_forward for rows at positions pos..pos+T-1 (row t of each sequence is rotated by the
  // angle (pos + t) * theta^(-2j/HS)). out == inp is allowed. pos = 0 is rope_forward.
  virtual void rope_forward_at(void* out, const void* inp, int B, int T, int pos, int NH, int NKV,
                               int HS, float theta);
  // logits[N,V] (fp32, overwritten) = x[N,C] @ wout[V,C]^T, accumulated in fp32: the head without
  // the loss (training fuses it with the cross-entropy; generation needs the logits themselves).
  virtual void logits_forward(float* logits, const void* x, const void* wout, int N, int C, int V);
};

// Factories. make_cpu_ops is always available; the CUDA ops come from the CUDA backend library
// (device/cuda_backend.h), through make_ops(device) in runtime/backend.h.
std::unique_ptr<Ops> make_cpu_ops();
// The CPU kernels instantiated in double (act dtype F64, stat_size 8): a reference for
// whole-model finite-difference gradient checks. Not for training (AdamW is not provided).
std::unique_ptr<Ops> make_cpu_ops64();

}  // namespace mart
