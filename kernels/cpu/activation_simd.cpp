// fp32 GELU / tanh / SwiGLU loops compiled three times (baseline, AVX2, AVX-512F) and picked at
// run time: the project builds without -march=native, so the wide paths are per-function
// targets. The loop bodies are the always-inline functions of vec_math.h, which g++ vectorises;
// they use only exactly rounded operations and the build has -ffp-contract=off, so all three
// paths give the same bits (tests/kernels/cpu_activation_test.cpp checks it).
#include "kernels/cpu/activation_simd.h"

#include "common/error.h"
#include "kernels/cpu/vec_math.h"

namespace mart::cpu {
namespace {

// sqrt(2/pi) and the cubic coefficient of GPT-2's tanh approximation.
constexpr float kGeluScale = 0.7978845608028654f;
constexpr float kGeluCubic = 0.044715f;

// 0.5 x (1 + tanh(u)) = x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3). The sigmoid form is
// exact algebra and keeps relative accuracy for negative x, where 1 + tanh(u) cancels.
MART_VEC_INLINE float gelu_one(float x) {
  const float u = kGeluScale * (x + kGeluCubic * x * x * x);
  return x * sigmoid_f32(u + u);
}

// d/dx: 0.5 (1 + tanh u) + 0.5 x sech^2(u) u', with 0.5 (1 + tanh u) = s = 1 / (1 + e),
// e = exp(-2u), and sech^2 u = 4 s (1 - s). 1 - s is taken as e * s, not 1 - s, which would
// cancel for x > 0 (an ulp of 1, times 2 x u' ~ 30 at x = 5); e = inf (x << 0) has 1 - s = 1.
MART_VEC_INLINE float gelu_grad_one(float x, float d) {
  const float u = kGeluScale * (x + kGeluCubic * x * x * x);
  const float e = exp_f32(-(u + u));
  const float s = 1.0f / (1.0f + e);
  const float oms = e > 3.0e38f ? 1.0f : e * s;
  const float du = kGeluScale * (1.0f + 3.0f * kGeluCubic * x * x);
  return (s + 2.0f * x * (s * oms) * du) * d;
}

#define MART_ACT_LOOPS(SUF, ATTR)                                                                  \
  ATTR void gelu_fwd_##SUF(float* o, const float* x, size_t n) {                                   \
    for (size_t i = 0; i < n; ++i) o[i] = gelu_one(x[i]);                                          \
  }                                                                                                \
  ATTR void gelu_bwd_##SUF(float* dx, const float* x, const float* d, size_t n) {                  \
    for (size_t i = 0; i < n; ++i) dx[i] = gelu_grad_one(x[i], d[i]);                              \
  }                                                                                                \
  ATTR void tanh_##SUF(float* o, const float* x, size_t n) {                                       \
    for (size_t i = 0; i < n; ++i) o[i] = tanh_f32(x[i]);                                          \
  }                                                                                                \
  ATTR void swiglu_fwd_##SUF(float* o, const float* g, const float* u, int F) {                    \
    for (int f = 0; f < F; ++f) o[f] = g[f] * sigmoid_f32(g[f]) * u[f];                            \
  }                                                                                                \
  ATTR void swiglu_bwd_##SUF(float* dg, float* du, const float* d, const float* g, const float* u, \
                             int F) {                                                              \
    for (int f = 0; f < F; ++f) {                                                                  \
      const float sig = sigmoid_f32(g[f]);                                                         \
      dg[f] = d[f] * u[f] * sig * (1.0f + g[f] * (1.0f - sig));                                    \
      du[f] = d[f] * g[f] * sig;                                                                   \
    }                                                                                              \
  }

MART_ACT_LOOPS(base, __attribute__((optimize("fp-contract=off"))))
MART_ACT_LOOPS(avx2, __attribute__((target("avx2"), optimize("fp-contract=off"))))
MART_ACT_LOOPS(avx512, __attribute__((target("avx512f"), optimize("fp-contract=off"))))
#undef MART_ACT_LOOPS

void check(ActIsa isa) {
  MART_CHECK(act_isa_supported(isa), "CPU activation path ", act_isa_name(isa),
             " is not supported by this CPU");
}

}  // namespace

const char* act_isa_name(ActIsa isa) {
  switch (isa) {
    case ActIsa::Base:
      return "base";
    case ActIsa::Avx2:
      return "avx2";
    case ActIsa::Avx512:
      return "avx512";
  }
  return "?";
}

bool act_isa_supported(ActIsa isa) {
  __builtin_cpu_init();
  switch (isa) {
    case ActIsa::Base:
      return true;
    case ActIsa::Avx2:
      return __builtin_cpu_supports("avx2");
    case ActIsa::Avx512:
      return __builtin_cpu_supports("avx512f");
  }
  return false;
}

ActIsa act_isa_default() {
  static const ActIsa isa = act_isa_supported(ActIsa::Avx512) ? ActIsa::Avx512
                            : act_isa_supported(ActIsa::Avx2) ? ActIsa::Avx2
                                                              : ActIsa::Base;
  return isa;
}

// Each entry point checks the path once per call (a cached cpuid bit; calls cover whole blocks).
#define MART_ACT_DISPATCH(CALL_BASE, CALL_AVX2, CALL_AVX512) \
  check(isa);                                                \
  if (isa == ActIsa::Avx512)                                 \
    CALL_AVX512;                                             \
  else if (isa == ActIsa::Avx2)                              \
    CALL_AVX2;                                               \
  else                                                       \
    CALL_BASE

void gelu_forward_f32(float* out, const float* inp, size_t n, ActIsa isa) {
  MART_ACT_DISPATCH(gelu_fwd_base(out, inp, n), gelu_fwd_avx2(out, inp, n),
                    gelu_fwd_avx512(out, inp, n));
}
void gelu_backward_f32(float* dinp, const float* inp, const float* dout, size_t n, ActIsa isa) {
  MART_ACT_DISPATCH(gelu_bwd_base(dinp, inp, dout, n), gelu_bwd_avx2(dinp, inp, dout, n),
                    gelu_bwd_avx512(dinp, inp, dout, n));
}
void tanh_forward_f32(float* out, const float* inp, size_t n, ActIsa isa) {
  MART_ACT_DISPATCH(tanh_base(out, inp, n), tanh_avx2(out, inp, n), tanh_avx512(out, inp, n));
}
void swiglu_forward_row_f32(float* out, const float* g, const float* u, int F, ActIsa isa) {
  MART_ACT_DISPATCH(swiglu_fwd_base(out, g, u, F), swiglu_fwd_avx2(out, g, u, F),
                    swiglu_fwd_avx512(out, g, u, F));
}
void swiglu_backward_row_f32(float* dg, float* du, const float* dout, const float* g,
                             const float* u, int F, ActIsa isa) {
  MART_ACT_DISPATCH(swiglu_bwd_base(dg, du, dout, g, u, F), swiglu_bwd_avx2(dg, du, dout, g, u, F),
                    swiglu_bwd_avx512(dg, du, dout, g, u, F));
}
#undef MART_ACT_DISPATCH

}  // namespace mart::cpu
