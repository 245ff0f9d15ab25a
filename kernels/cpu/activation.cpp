// Elementwise activations: GELU (tanh approximation, as GPT-2) and SwiGLU (as Llama).
// The float instantiations run the vectorised loops of activation_simd.h; the double ones (the
// reference backend) keep std::tanh / std::exp.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <type_traits>

#include "common/error.h"
#include "kernels/cpu/activation_simd.h"
#include "kernels/cpu/cpu_kernels.h"

namespace mart::cpu {

namespace {
// sqrt(2/pi), the constant of GPT-2's tanh approximation.
constexpr double kGeluScale = 0.7978845608028654;
constexpr double kGeluCubic = 0.044715;
// Elements per OpenMP work item of the elementwise float loops: a few pages per thread.
constexpr ptrdiff_t kBlock = 8192;

// Runs fn(begin, count) over [0, n) in fixed blocks, in parallel.
template <class Fn>
void for_blocks(size_t n, Fn fn) {
  const ptrdiff_t nb = (static_cast<ptrdiff_t>(n) + kBlock - 1) / kBlock;
#pragma omp parallel for
  for (ptrdiff_t b = 0; b < nb; b++) {
    const size_t begin = static_cast<size_t>(b * kBlock);
    fn(begin, std::min(static_cast<size_t>(kBlock), n - begin));
  }
}
}  // namespace

// out[n] = 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))).
template <class S>
void gelu_forward(S* out, const S* inp, size_t n) {
  if constexpr (std::is_same_v<S, float>) {
    const ActIsa isa = act_isa_default();
    for_blocks(n, [&](size_t i, size_t c) { gelu_forward_f32(out + i, inp + i, c, isa); });
    return;
  }
  const S k = static_cast<S>(kGeluScale), a = static_cast<S>(kGeluCubic);
#pragma omp parallel for
  for (ptrdiff_t i = 0; i < static_cast<ptrdiff_t>(n); i++) {
    const S x = inp[i];
    const S u = k * (x + a * x * x * x);
    out[i] = S(0.5) * x * (S(1) + std::tanh(u));
  }
}

// dinp[n] = dout * gelu'(inp) (overwritten).
template <class S>
void gelu_backward(S* dinp, const S* inp, const S* dout, size_t n) {
  if constexpr (std::is_same_v<S, float>) {
    const ActIsa isa = act_isa_default();
    for_blocks(n,
               [&](size_t i, size_t c) { gelu_backward_f32(dinp + i, inp + i, dout + i, c, isa); });
    return;
  }
  const S k = static_cast<S>(kGeluScale), a = static_cast<S>(kGeluCubic);
#pragma omp parallel for
  for (ptrdiff_t i = 0; i < static_cast<ptrdiff_t>(n); i++) {
    const S x = inp[i];
    const S u = k * (x + a * x * x * x);
    const S th = std::tanh(u);
    const S sech2 = S(1) - th * th;
    const S du = k * (S(1) + S(3) * a * x * x);
    dinp[i] = (S(0.5) * (S(1) + th) + S(0.5) * x * sech2 * du) * dout[i];
  }
}

// inp[N,2F] = [gate | up] per row; out[N,F] = silu(gate) * up, silu(g) = g * sigmoid(g).
template <class S>
void swiglu_forward(S* out, const S* inp, int N, int F) {
  MART_CHECK(N >= 0 && F > 0, "swiglu_forward: bad shape N=", N, " F=", F);
  if constexpr (std::is_same_v<S, float>) {
    const ActIsa isa = act_isa_default();
#pragma omp parallel for
    for (int n = 0; n < N; n++) {
      const float* g = inp + static_cast<size_t>(n) * 2 * F;
      swiglu_forward_row_f32(out + static_cast<size_t>(n) * F, g, g + F, F, isa);
    }
    return;
  }
#pragma omp parallel for
  for (int n = 0; n < N; n++) {
    const S* g = inp + static_cast<size_t>(n) * 2 * F;
    const S* u = g + F;
    S* o = out + static_cast<size_t>(n) * F;
    for (int f = 0; f < F; f++) {
      const S sig = S(1) / (S(1) + std::exp(-g[f]));
      o[f] = g[f] * sig * u[f];
    }
  }
}

// dinp[N,2F] (overwritten): dgate = dout * up * sig * (1 + g * (1 - sig)), dup = dout * silu(g).
template <class S>
void swiglu_backward(S* dinp, const S* dout, const S* inp, int N, int F) {
  MART_CHECK(N >= 0 && F > 0, "swiglu_backward: bad shape N=", N, " F=", F);
  if constexpr (std::is_same_v<S, float>) {
    const ActIsa isa = act_isa_default();
#pragma omp parallel for
    for (int n = 0; n < N; n++) {
      const float* g = inp + static_cast<size_t>(n) * 2 * F;
      float* dg = dinp + static_cast<size_t>(n) * 2 * F;
      swiglu_backward_row_f32(dg, dg + F, dout + static_cast<size_t>(n) * F, g, g + F, F, isa);
    }
    return;
  }
#pragma omp parallel for
  for (int n = 0; n < N; n++) {
    const S* g = inp + static_cast<size_t>(n) * 2 * F;
    const S* u = g + F;
    const S* d = dout + static_cast<size_t>(n) * F;
    S* dg = dinp + static_cast<size_t>(n) * 2 * F;
    S* du = dg + F;
    for (int f = 0; f < F; f++) {
      const S sig = S(1) / (S(1) + std::exp(-g[f]));
      dg[f] = d[f] * u[f] * sig * (S(1) + g[f] * (S(1) - sig));
      du[f] = d[f] * g[f] * sig;
    }
  }
}

template void gelu_forward<float>(float*, const float*, size_t);
template void gelu_forward<double>(double*, const double*, size_t);
template void gelu_backward<float>(float*, const float*, const float*, size_t);
template void gelu_backward<double>(double*, const double*, const double*, size_t);
template void swiglu_forward<float>(float*, const float*, int, int);
template void swiglu_forward<double>(double*, const double*, int, int);
template void swiglu_backward<float>(float*, const float*, const float*, int, int);
template void swiglu_backward<double>(double*, const double*, const double*, int, int);

}  // namespace mart::cpu
