// CPU reference kernels, templated on the scalar type: float is what training runs, double is what
// the finite-difference gradient checks run. OpenMP over rows; matmuls through CBLAS (sgemm/dgemm).
// Semantics (shapes, accumulate/overwrite) are exactly those documented in kernels/ops.h; here the
// statistics buffers (mean, rstd, lse) and losses have the scalar type S as well.
// Every reduction is deterministic and independent of the thread count (fixed partitioning).
#pragma once
#include <cstddef>
#include <cstdint>

namespace mart::cpu {

template <class S>
void embedding_forward(S* out, const int32_t* tokens, const S* wte, const S* wpe, int B, int T,
                       int C);
template <class S>
void embedding_backward(S* dwte, S* dwpe, const S* dout, const int32_t* tokens, int B, int T,
                        int C);
template <class S>
void layernorm_forward(S* out, S* mean, S* rstd, const S* inp, const S* w, const S* b, int N, int C,
                       float eps);
template <class S>
void layernorm_backward(S* dinp, S* dw, S* db, const S* dout, const S* inp, const S* w,
                        const S* mean, const S* rstd, int N, int C);
template <class S>
void rmsnorm_forward(S* out, S* rstd, const S* inp, const S* w, int N, int C, float eps);
template <class S>
void rmsnorm_backward(S* dinp, S* dw, const S* dout, const S* inp, const S* w, const S* rstd, int N,
                      int C);
template <class S>
void matmul_forward(S* out, const S* inp, const S* w, const S* bias, int N, int IC, int OC);
template <class S>
void matmul_backward(S* dinp, S* dw, S* dbias, const S* dout, const S* inp, const S* w, int N,
                     int IC, int OC);
template <class S>
void attention_forward(S* out, S* lse, const S* qkv, int B, int T, int NH, int NKV, int HS);
template <class S>
void attention_backward(S* dqkv, const S* dout, const S* qkv, const S* out, const S* lse, int B,
                        int T, int NH, int NKV, int HS);
template <class S>
void rope_forward(S* out, const S* inp, int B, int T, int NH, int NKV, int HS, float theta);
template <class S>
void rope_backward(S* dinp, const S* dout, int B, int T, int NH, int NKV, int HS, float theta);
template <class S>
void gelu_forward(S* out, const S* inp, size_t n);
template <class S>
void gelu_backward(S* dinp, const S* inp, const S* dout, size_t n);
template <class S>
void swiglu_forward(S* out, const S* inp, int N, int F);
template <class S>
void swiglu_backward(S* dinp, const S* dout, const S* inp, int N, int F);
// Softmax cross-entropy over logits[N,V]: losses[n] (0 where targets[n] < 0). If dloss != 0,
// logits are overwritten in place with dloss * (softmax - onehot) (0 rows for ignored targets).
template <class S>
void crossentropy_forward_backward(S* logits, S* losses, const int32_t* targets, int N, int V,
                                   float dloss);
// The output head: see Ops::classifier_forward_backward. workspace holds rows_per_chunk*V scalars.
template <class S>
void classifier_forward_backward(S* losses, S* dx, S* dwout, const S* x, const S* wout,
                                 const int32_t* targets, int N, int C, int V, float dloss,
                                 S* workspace, int rows_per_chunk);
// AdamW, decoupled decay. The float path fixes the order of every operation (no FMA) so that the
// SIMD CPU Adam (kernels/cpu/adamw_simd.h) is bitwise equal to it:
//   bc1 = (float)(1 - pow((double)b1, step)), bc2 likewise with b2   (host, once per call)
//   g = grad * grad_scale
//   m = b1 * m + (1.0f - b1) * g
//   v = b2 * v + (1.0f - b2) * (g * g)
//   mhat = m / bc1; vhat = v / bc2
//   p = p - lr * (mhat / (sqrt(vhat) + eps) + weight_decay * p)
template <class S>
void adamw_update(S* param, const S* grad, S* m, S* v, size_t n, float lr, float beta1, float beta2,
                  float eps, float weight_decay, int step, float grad_scale);
// Sum of squares accumulated in double, fixed 4096-element blocks summed in order.
template <class S>
double sumsq(const S* x, size_t n);

}  // namespace mart::cpu
