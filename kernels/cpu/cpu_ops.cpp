// CpuOps<S>: the CPU backends. Every op forwards to the S instantiation of the templates in
// cpu_kernels.h and runs inline on the calling thread (OpenMP inside). S = float is the training
// backend; S = double is the reference for whole-model finite-difference checks: its act buffers
// and its statistics/loss buffers (typed float* by the interface, stat_size() == 8) hold doubles.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/error.h"
#include "kernels/cpu/adamw_simd.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/decode_kernels.h"
#include "kernels/ops.h"

namespace mart {

namespace {

// Bytes of logits one classifier chunk may hold: big enough for good gemm shapes, small enough
// that the [N,V] logits never exist at once.
constexpr size_t kClassifierChunkBytes = size_t{8} << 20;

int classifier_rows_per_chunk(int N, int V, size_t elem = sizeof(float)) {
  const size_t per_row = static_cast<size_t>(std::max(V, 1)) * elem;
  const size_t rows = kClassifierChunkBytes / per_row;
  return static_cast<int>(std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(N), rows)));
}

template <class S>
class CpuOps : public Ops {
  static S* F(void* p) { return static_cast<S*>(p); }
  static const S* F(const void* p) { return static_cast<const S*>(p); }
  // Statistics: float* in the interface, S-typed storage (identity for float).
  static S* St(float* p) { return reinterpret_cast<S*>(p); }
  static const S* St(const float* p) { return reinterpret_cast<const S*>(p); }
  static constexpr bool kF64 = sizeof(S) == 8;

 public:
  DType act_dtype() const override { return kF64 ? DType::F64 : DType::F32; }
  const char* name() const override { return kF64 ? "cpu-f64" : "cpu"; }
  size_t stat_size() const override { return sizeof(S); }

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
    cpu::layernorm_forward(F(out), St(mean), St(rstd), F(inp), F(w), F(b), N, C, eps);
  }
  void layernorm_backward(void* dinp, void* dw, void* db, const void* dout, const void* inp,
                          const void* w, const float* mean, const float* rstd, int N,
                          int C) override {
    cpu::layernorm_backward(F(dinp), F(dw), F(db), F(dout), F(inp), F(w), St(mean), St(rstd), N, C);
  }
  void rmsnorm_forward(void* out, float* rstd, const void* inp, const void* w, int N, int C,
                       float eps) override {
    cpu::rmsnorm_forward(F(out), St(rstd), F(inp), F(w), N, C, eps);
  }
  void rmsnorm_backward(void* dinp, void* dw, const void* dout, const void* inp, const void* w,
                        const float* rstd, int N, int C) override {
    cpu::rmsnorm_backward(F(dinp), F(dw), F(dout), F(inp), F(w), St(rstd), N, C);
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
    cpu::attention_forward(F(out), St(lse), F(qkv), B, T, NH, NKV, HS);
  }
  void attention_backward(void* dqkv, const void* dout, const void* qkv, const void* out,
                          const float* lse, int B, int T, int NH, int NKV, int HS) override {
    cpu::attention_backward(F(dqkv), F(dout), F(qkv), F(out), St(lse), B, T, NH, NKV, HS);
  }

  void rope_forward(void* out, const void* inp, int B, int T, int NH, int NKV, int HS,
                    float theta) override {
    cpu::rope_forward(F(out), F(inp), B, T, NH, NKV, HS, theta);
  }
  void rope_backward(void* dinp, const void* dout, int B, int T, int NH, int NKV, int HS,
                     float theta) override {
    cpu::rope_backward(F(dinp), F(dout), B, T, NH, NKV, HS, theta);
  }

  // Decoding (kernels/cpu/decode.cpp).
  void attention_decode(void* out, const void* qkv, void* k_cache, void* v_cache, int B, int T,
                        int pos, int max_T, int NH, int NKV, int HS) override {
    cpu::attention_decode(F(out), F(qkv), F(k_cache), F(v_cache), B, T, pos, max_T, NH, NKV, HS);
  }
  void rope_forward_at(void* out, const void* inp, int B, int T, int pos, int NH, int NKV, int HS,
                       float theta) override {
    cpu::rope_forward_at(F(out), F(inp), B, T, pos, NH, NKV, HS, theta);
  }
  void logits_forward(float* logits, const void* x, const void* wout, int N, int C,
                      int V) override {
    cpu::logits_forward(logits, F(x), F(wout), N, C, V);
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
    S* o = F(out);
    const S* x = F(a);
    const S* y = F(b);
#pragma omp parallel for
    for (ptrdiff_t i = 0; i < static_cast<ptrdiff_t>(n); i++) o[i] = x[i] + y[i];
  }

  void classifier_forward_backward(float* losses, void* dx, void* dwout, const void* x,
                                   const void* wout, const int32_t* targets, int N, int C, int V,
                                   float dloss, void* workspace) override {
    cpu::classifier_forward_backward(St(losses), F(dx), F(dwout), F(x), F(wout), targets, N, C, V,
                                     dloss, F(workspace),
                                     classifier_rows_per_chunk(N, V, sizeof(S)));
  }
  size_t classifier_workspace_bytes(int N, int V) const override {
    return static_cast<size_t>(classifier_rows_per_chunk(N, V, sizeof(S))) *
           static_cast<size_t>(V) * sizeof(S);
  }

  // param, grad fp32. With a master copy (kept for interface symmetry with CUDA), the master is
  // updated and written to param in the same pass; seed is unused (no stochastic rounding in
  // fp32). Resident parameters get the same SIMD kernel as offloaded chunks (adamw_simd.h: the
  // widest path, or MART_CPU_ADAM_ISA), bitwise equal to cpu::adamw_update<float>.
  void adamw_update(void* param, float* master, const void* grad, float* m, float* v, size_t n,
                    const AdamWHyper& h, uint64_t seed) override {
    MART_CHECK(!kF64, "the F64 reference backend has no optimizer (m and v are fp32 buffers)");
    cpu::AdamWSpan s;
    s.grad = grad;
    s.grad_dtype = DType::F32;
    s.master = master ? master : static_cast<float*>(param);
    s.m = m;
    s.v = v;
    s.out = master && static_cast<void*>(master) != param ? param : nullptr;
    s.out_dtype = DType::F32;
    s.n = n;
    cpu::adamw_validate(s);
    const cpu::AdamWConsts k = cpu::adamw_consts(h);
    const cpu::AdamIsa isa = cpu::adam_isa_default();
    // Elementwise, so any split gives the same bits; blocks of 64K keep threads on whole pages.
    constexpr ptrdiff_t kBlock = ptrdiff_t{1} << 16;
    const ptrdiff_t nb = (static_cast<ptrdiff_t>(n) + kBlock - 1) / kBlock;
#pragma omp parallel for
    for (ptrdiff_t b = 0; b < nb; b++) {
      const size_t begin = static_cast<size_t>(b * kBlock);
      // param is read by the next forward: ordinary stores, not streaming ones.
      cpu::adamw_simd(s, begin, std::min(n, begin + kBlock), k, isa, /*stream_out=*/false);
    }
  }
  void sumsq(float* out, const void* x, size_t n) override {
    *out = static_cast<float>(cpu::sumsq(F(x), n));
  }
  void scale(void* x, float s, size_t n) override {
    S* p = F(x);
#pragma omp parallel for
    for (ptrdiff_t i = 0; i < static_cast<ptrdiff_t>(n); i++) p[i] *= s;
  }
};

}  // namespace

std::unique_ptr<Ops> make_cpu_ops() {
  return std::make_unique<CpuOps<float>>();
}

std::unique_ptr<Ops> make_cpu_ops64() {
  return std::make_unique<CpuOps<double>>();
}

}  // namespace mart
