// CpuOps: the fp32 reference backend. Every op forwards to the float instantiation of the templates
// in cpu_kernels.h and runs inline on the calling thread (OpenMP inside).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/error.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/ops.h"

namespace mart {

namespace {

inline float* F(void* p) {
  return static_cast<float*>(p);
}
inline const float* F(const void* p) {
  return static_cast<const float*>(p);
}

// Bytes of logits one classifier chunk may hold: big enough for good gemm shapes, small enough
// that the [N,V] logits never exist at once.
constexpr size_t kClassifierChunkBytes = size_t{8} << 20;

int classifier_rows_per_chunk(int N, int V) {
  const size_t per_row = static_cast<size_t>(std::max(V, 1)) * sizeof(float);
  const size_t rows = kClassifierChunkBytes / per_row;
  return static_cast<int>(std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(N), rows)));
}

class CpuOps : public Ops {
 public:
  DType act_dtype() const override { return DType::F32; }
  const char* name() const override { return "cpu"; }

  void embedding_forward(void* out, const int32_t* tokens, const void* wte, const void* wpe, int B,
                         int T, int C) override {
    cpu::embedding_forward(F(out), tokens, F(wte), F(wpe), B, T, C);
  }
  void embedding_backward(void* dwte, void* dwpe, const void* dout, const int32_t* tokens, int B,
                          int T, int C) override {
    cpu::embedding_backward(F(dwte), F(dwpe), F(dout), tokens, B, T, C);
  }

  void layernorm_forward(void* out, float* mean, float* rstd, const void* inp, const void* w,
                         const void* b, int N, int C, float eps) override {
    cpu::layernorm_forward(F(out), mean, rstd, F(inp), F(w), F(b), N, C, eps);
  }
  void layernorm_backward(void* dinp, void* dw, void* db, const void* dout, const void* inp,
                          const void* w, const float* mean, const float* rstd, int N,
                          int C) override {
    cpu::layernorm_backward(F(dinp), F(dw), F(db), F(dout), F(inp), F(w), mean, rstd, N, C);
  }
  void rmsnorm_forward(void* out, float* rstd, const void* inp, const void* w, int N, int C,
                       float eps) override {
    cpu::rmsnorm_forward(F(out), rstd, F(inp), F(w), N, C, eps);
  }
  void rmsnorm_backward(void* dinp, void* dw, const void* dout, const void* inp, const void* w,
                        const float* rstd, int N, int C) override {
    cpu::rmsnorm_backward(F(dinp), F(dw), F(dout), F(inp), F(w), rstd, N, C);
  }

  void matmul_forward(void* out, void* gelu_out, const void* inp, const void* w, const void* bias,
                      int N, int IC, int OC) override {
    cpu::matmul_forward(F(out), F(inp), F(w), F(bias), N, IC, OC);
    // The CPU "fused epilogue" is a second pass; out keeps the pre-activation for the backward.
    if (gelu_out) cpu::gelu_forward(F(gelu_out), F(out), static_cast<size_t>(N) * OC);
  }
  void matmul_backward(void* dinp, void* dw, void* dbias, const void* dout, const void* inp,
                       const void* w, int N, int IC, int OC) override {
    cpu::matmul_backward(F(dinp), F(dw), F(dbias), F(dout), F(inp), F(w), N, IC, OC);
  }

  void attention_forward(void* out, float* lse, const void* qkv, int B, int T, int NH, int NKV,
                         int HS) override {
    cpu::attention_forward(F(out), lse, F(qkv), B, T, NH, NKV, HS);
  }
  void attention_backward(void* dqkv, const void* dout, const void* qkv, const void* out,
                          const float* lse, int B, int T, int NH, int NKV, int HS) override {
    cpu::attention_backward(F(dqkv), F(dout), F(qkv), F(out), lse, B, T, NH, NKV, HS);
  }

  void rope_forward(void* out, const void* inp, int B, int T, int NH, int NKV, int HS,
                    float theta) override {
    cpu::rope_forward(F(out), F(inp), B, T, NH, NKV, HS, theta);
  }
  void rope_backward(void* dinp, const void* dout, int B, int T, int NH, int NKV, int HS,
                     float theta) override {
    cpu::rope_backward(F(dinp), F(dout), B, T, NH, NKV, HS, theta);
  }

  void gelu_forward(void* out, const void* inp, size_t n) override {
    cpu::gelu_forward(F(out), F(inp), n);
  }
  void gelu_backward(void* dinp, const void* inp, const void* dout, size_t n) override {
    cpu::gelu_backward(F(dinp), F(inp), F(dout), n);
  }
  void swiglu_forward(void* out, const void* inp, int N, int F_) override {
    cpu::swiglu_forward(F(out), F(inp), N, F_);
  }
  void swiglu_backward(void* dinp, const void* dout, const void* inp, int N, int F_) override {
    cpu::swiglu_backward(F(dinp), F(dout), F(inp), N, F_);
  }
  // out[n] = a[n] + b[n]; out may alias a or b (elementwise, read before write).
  void add(void* out, const void* a, const void* b, size_t n) override {
    float* o = F(out);
    const float* x = F(a);
    const float* y = F(b);
#pragma omp parallel for
    for (ptrdiff_t i = 0; i < static_cast<ptrdiff_t>(n); i++) o[i] = x[i] + y[i];
  }

  void classifier_forward_backward(float* losses, void* dx, void* dwout, const void* x,
                                   const void* wout, const int32_t* targets, int N, int C, int V,
                                   float dloss, void* workspace) override {
    cpu::classifier_forward_backward(losses, F(dx), F(dwout), F(x), F(wout), targets, N, C, V,
                                     dloss, F(workspace), classifier_rows_per_chunk(N, V));
  }
  size_t classifier_workspace_bytes(int N, int V) const override {
    return static_cast<size_t>(classifier_rows_per_chunk(N, V)) * static_cast<size_t>(V) *
           sizeof(float);
  }

  // param, grad fp32. With a master copy (kept for interface symmetry with CUDA), the master is
  // updated and copied to param; seed is unused (no stochastic rounding in fp32).
  void adamw_update(void* param, float* master, const void* grad, float* m, float* v, size_t n,
                    const AdamWHyper& h, uint64_t seed) override {
    float* target = master ? master : F(param);
    cpu::adamw_update(target, F(grad), m, v, n, h.lr, h.beta1, h.beta2, h.eps, h.weight_decay,
                      h.step, h.grad_scale);
    if (master && static_cast<void*>(master) != param) {
      float* p = F(param);
#pragma omp parallel for
      for (ptrdiff_t i = 0; i < static_cast<ptrdiff_t>(n); i++) p[i] = master[i];
    }
  }
  void sumsq(float* out, const void* x, size_t n) override {
    *out = static_cast<float>(cpu::sumsq(F(x), n));
  }
  void scale(void* x, float s, size_t n) override {
    float* p = F(x);
#pragma omp parallel for
    for (ptrdiff_t i = 0; i < static_cast<ptrdiff_t>(n); i++) p[i] *= s;
  }
};

}  // namespace

std::unique_ptr<Ops> make_cpu_ops() {
  return std::make_unique<CpuOps>();
}

}  // namespace mart
