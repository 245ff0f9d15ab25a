// AdamW with decoupled weight decay, elementwise. The float instantiation is the bitwise reference
// for the SIMD CPU Adam, so the operation order below is exactly the one in cpu_kernels.h and
// nothing may be fused (CMakeLists.txt compiles with -ffp-contract=off: g++ would otherwise
// contract a*b+c into an FMA whenever -march/-mfma allows it, even in ISO C++ mode).
#include <cmath>
#include <cstddef>

#include "common/error.h"
#include "kernels/cpu/cpu_kernels.h"

namespace mart::cpu {

// param[n], grad[n], m[n], v[n]: m, v and param updated in place.
template <class S>
void adamw_update(S* param, const S* grad, S* m, S* v, size_t n, float lr, float beta1, float beta2,
                  float eps, float weight_decay, int step, float grad_scale) {
  MART_CHECK(step >= 1, "adamw_update: step=", step, " must be >= 1 (it is 1-based)");
  const S bc1 = static_cast<S>(1.0 - std::pow(static_cast<double>(beta1), step));
  const S bc2 = static_cast<S>(1.0 - std::pow(static_cast<double>(beta2), step));
  const S b1 = beta1, b2 = beta2, one_b1 = S(1) - b1, one_b2 = S(1) - b2;
  const S s_lr = lr, s_eps = eps, s_wd = weight_decay, gs = grad_scale;
#pragma omp parallel for
  for (ptrdiff_t i = 0; i < static_cast<ptrdiff_t>(n); i++) {
    const S g = grad[i] * gs;
    const S mi = b1 * m[i] + one_b1 * g;
    const S vi = b2 * v[i] + one_b2 * (g * g);
    m[i] = mi;
    v[i] = vi;
    const S mhat = mi / bc1;
    const S vhat = vi / bc2;
    const S p = param[i];
    param[i] = p - s_lr * (mhat / (std::sqrt(vhat) + s_eps) + s_wd * p);
  }
}

template void adamw_update<float>(float*, const float*, float*, float*, size_t, float, float, float,
                                  float, float, int, float);
template void adamw_update<double>(double*, const double*, double*, double*, size_t, float, float,
                                   float, float, float, int, float);

}  // namespace mart::cpu
