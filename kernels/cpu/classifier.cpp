// The output head fused with cross-entropy, in row chunks so the [N,V] logits never exist at once
// (with V = 128k and N = 8k rows they would be 4 GiB in fp32).
#include <cstddef>
#include <cstdint>

#include "common/error.h"
#include "kernels/cpu/cpu_kernels.h"

namespace mart::cpu {

// x[N,C], wout[V,C], targets[N] -> losses[N]; if dloss != 0 also dx[N,C] (overwritten) and
// dwout[V,C] (+=) for the loss dloss * sum(losses). workspace[rows_per_chunk,V] holds one chunk's
// logits, then its logit gradients.
template <class S>
void classifier_forward_backward(S* losses, S* dx, S* dwout, const S* x, const S* wout,
                                 const int32_t* targets, int N, int C, int V, float dloss,
                                 S* workspace, int rows_per_chunk) {
  MART_CHECK(N >= 0 && C > 0 && V > 0, "classifier: bad shape N=", N, " C=", C, " V=", V);
  MART_CHECK(rows_per_chunk > 0, "classifier: rows_per_chunk=", rows_per_chunk, " must be >= 1");
  MART_CHECK(workspace != nullptr, "classifier: workspace is null (it must hold rows_per_chunk*V",
             " scalars)");
  MART_CHECK(dloss == 0.0f || (dx != nullptr && dwout != nullptr), "classifier: dloss=", dloss,
             " asks for gradients but dx or dwout is null");
  for (int r0 = 0; r0 < N; r0 += rows_per_chunk) {
    const int nr = N - r0 < rows_per_chunk ? N - r0 : rows_per_chunk;
    const S* xc = x + static_cast<size_t>(r0) * C;
    // logits[nr,V] = x_chunk @ wout^T
    matmul_forward(workspace, xc, wout, static_cast<const S*>(nullptr), nr, C, V);
    // in place: logits -> dloss * (softmax - onehot)
    crossentropy_forward_backward(workspace, losses + r0, targets + r0, nr, V, dloss);
    if (dloss != 0.0f) {
      // dx_chunk = dlogits @ wout (overwrite), dwout += dlogits^T @ x_chunk
      matmul_backward(dx + static_cast<size_t>(r0) * C, dwout, static_cast<S*>(nullptr), workspace,
                      xc, wout, nr, C, V);
    }
  }
}

template void classifier_forward_backward<float>(float*, float*, float*, const float*, const float*,
                                                 const int32_t*, int, int, int, float, float*, int);
template void classifier_forward_backward<double>(double*, double*, double*, const double*,
                                                  const double*, const int32_t*, int, int, int,
                                                  float, double*, int);

}  // namespace mart::cpu
