// Softmax cross-entropy over rows of logits, fused with its gradient (llm.c
// crossentropy_softmax_backward). Max-subtracted, exp-sums in double; one task per row.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "common/error.h"
#include "kernels/cpu/cpu_kernels.h"

namespace mart::cpu {

// logits[N,V], targets[N] -> losses[N] = logsumexp(logits_n) - logits_n[target_n] (0 where the
// target is < 0). If dloss != 0, logits are overwritten with dloss * (softmax - onehot(target)),
// all-zero rows for ignored targets.
template <class S>
void crossentropy_forward_backward(S* logits, S* losses, const int32_t* targets, int N, int V,
                                   float dloss) {
  MART_CHECK(N >= 0 && V > 0, "crossentropy: bad shape N=", N, " V=", V);
  // Validated up front: an exception must not escape an OpenMP worker.
  for (int n = 0; n < N; n++) {
    MART_CHECK(targets[n] < V, "crossentropy: target ", targets[n], " at row ", n,
               " is out of range for vocabulary size V=", V,
               " (use a negative id to ignore a row)");
  }
  const double dl = dloss;
#pragma omp parallel for
  for (int n = 0; n < N; n++) {
    S* l = logits + static_cast<size_t>(n) * V;
    const int32_t tgt = targets[n];
    if (tgt < 0) {
      losses[n] = S(0);
      if (dloss != 0.0f) {
        for (int v = 0; v < V; v++) l[v] = S(0);
      }
      continue;
    }
    double mx = l[0];
    for (int v = 1; v < V; v++) {
      if (l[v] > mx) mx = l[v];
    }
    double sum = 0.0;
    for (int v = 0; v < V; v++) sum += std::exp(static_cast<double>(l[v]) - mx);
    const double lse = mx + std::log(sum);
    losses[n] = static_cast<S>(lse - static_cast<double>(l[tgt]));
    if (dloss != 0.0f) {
      for (int v = 0; v < V; v++) {
        const double p = std::exp(static_cast<double>(l[v]) - lse);
        l[v] = static_cast<S>(dl * (v == tgt ? p - 1.0 : p));
      }
    }
  }
}

template void crossentropy_forward_backward<float>(float*, float*, const int32_t*, int, int, float);
template void crossentropy_forward_backward<double>(double*, double*, const int32_t*, int, int,
                                                    float);

}  // namespace mart::cpu
