// Elementwise activations: GELU (tanh approximation, as GPT-2) and SwiGLU (as Llama).
#include <cmath>
#include <cstddef>

#include "common/error.h"
#include "kernels/cpu/cpu_kernels.h"

namespace mart::cpu {

namespace {
// sqrt(2/pi), the constant of GPT-2's tanh approximation.
constexpr double kGeluScale = 0.7978845608028654;
constexpr double kGeluCubic = 0.044715;
}  // namespace

// out[n] = 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))).
template <class S>
void gelu_forward(S* out, const S* inp, size_t n) {
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
