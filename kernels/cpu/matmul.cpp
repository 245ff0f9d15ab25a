// Linear layer y = x @ w^T + b through CBLAS (OpenBLAS). The weight layout is PyTorch's [OC,IC].
#include <cblas.h>

#include <cstddef>

#include "common/error.h"
#include "kernels/cpu/blas_gemm.h"
#include "kernels/cpu/cpu_kernels.h"

namespace mart::cpu {

namespace {
// Columns per task for the bias-gradient sum: a task owns a column slice and walks all rows in
// order, so dbias is independent of the thread count.
constexpr int kColBlock = 64;

void check_shape(const char* op, int N, int IC, int OC) {
  MART_CHECK(N >= 0 && IC > 0 && OC > 0, op, ": bad shape N=", N, " IC=", IC, " OC=", OC,
             " (need N >= 0, IC > 0, OC > 0)");
}
}  // namespace

// out[N,OC] = inp[N,IC] @ w[OC,IC]^T + bias[OC] (bias may be null).
template <class S>
void matmul_forward(S* out, const S* inp, const S* w, const S* bias, int N, int IC, int OC) {
  check_shape("matmul_forward", N, IC, OC);
  if (N == 0) return;
  if (bias) {
    // Seed out with the bias and let the gemm add onto it (beta = 1): one pass over out.
#pragma omp parallel for
    for (int n = 0; n < N; n++) {
      S* o = out + static_cast<size_t>(n) * OC;
      for (int c = 0; c < OC; c++) o[c] = bias[c];
    }
  }
  gemm(false, true, N, OC, IC, S(1), inp, IC, w, IC, bias ? S(1) : S(0), out, OC);
}

// dinp[N,IC] = dout[N,OC] @ w[OC,IC] (overwritten; skipped if null); dw[OC,IC] += dout^T @ inp
// (skipped if null); dbias[OC] += column sums of dout (skipped if null).
template <class S>
void matmul_backward(S* dinp, S* dw, S* dbias, const S* dout, const S* inp, const S* w, int N,
                     int IC, int OC) {
  check_shape("matmul_backward", N, IC, OC);
  if (N == 0) return;
  if (dinp) gemm(false, false, N, IC, OC, S(1), dout, OC, w, IC, S(0), dinp, IC);
  if (dw) gemm(true, false, OC, IC, N, S(1), dout, OC, inp, IC, S(1), dw, IC);
  if (dbias) {
    const int nblocks = (OC + kColBlock - 1) / kColBlock;
#pragma omp parallel for
    for (int blk = 0; blk < nblocks; blk++) {
      const int c0 = blk * kColBlock;
      const int nc = OC - c0 < kColBlock ? OC - c0 : kColBlock;
      double acc[kColBlock] = {};
      for (int n = 0; n < N; n++) {
        const S* d = dout + static_cast<size_t>(n) * OC + c0;
        for (int j = 0; j < nc; j++) acc[j] += d[j];
      }
      for (int j = 0; j < nc; j++) dbias[c0 + j] += static_cast<S>(acc[j]);
    }
  }
}

template void matmul_forward<float>(float*, const float*, const float*, const float*, int, int,
                                    int);
template void matmul_forward<double>(double*, const double*, const double*, const double*, int, int,
                                     int);
template void matmul_backward<float>(float*, float*, float*, const float*, const float*,
                                     const float*, int, int, int);
template void matmul_backward<double>(double*, double*, double*, const double*, const double*,
                                      const double*, int, int, int);

}  // namespace mart::cpu
