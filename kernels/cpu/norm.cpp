// LayerNorm and RMSNorm over rows. Row statistics and the weight-gradient column sums accumulate
// in double: it costs nothing next to the matmuls and keeps float close to the double reference.
#include <cmath>
#include <cstddef>

#include "common/error.h"
#include "kernels/cpu/cpu_kernels.h"

namespace mart::cpu {

namespace {
// Columns per task for the weight-gradient sums: a task owns a column slice and walks all rows in
// order, so dw/db are independent of the thread count.
constexpr int kColBlock = 64;

void check_shape(const char* op, int N, int C) {
  MART_CHECK(N >= 0 && C > 0, op, ": bad shape N=", N, " C=", C, " (need N >= 0, C > 0)");
}
}  // namespace

// out[N,C] = (inp - mean) * rstd * w + b; mean[N], rstd[N]; w[C], b[C] or null.
template <class S>
void layernorm_forward(S* out, S* mean, S* rstd, const S* inp, const S* w, const S* b, int N, int C,
                       float eps) {
  check_shape("layernorm_forward", N, C);
#pragma omp parallel for
  for (int n = 0; n < N; n++) {
    const S* x = inp + static_cast<size_t>(n) * C;
    S* o = out + static_cast<size_t>(n) * C;
    double m = 0.0;
    for (int c = 0; c < C; c++) m += x[c];
    m /= C;
    // Two-pass variance: no cancellation when |mean| >> std.
    double var = 0.0;
    for (int c = 0; c < C; c++) {
      const double d = x[c] - m;
      var += d * d;
    }
    var /= C;
    const S ms = static_cast<S>(m);
    const S rs = static_cast<S>(1.0 / std::sqrt(var + static_cast<double>(eps)));
    for (int c = 0; c < C; c++) {
      const S norm = (x[c] - ms) * rs;
      o[c] = b ? norm * w[c] + b[c] : norm * w[c];
    }
    mean[n] = ms;
    rstd[n] = rs;
  }
}

// dinp[N,C] += d(out)/d(inp) applied to dout[N,C]; dw[C] += sum_n dout * norm; db[C] += sum_n dout
// (db may be null). mean[N], rstd[N] are the forward's.
template <class S>
void layernorm_backward(S* dinp, S* dw, S* db, const S* dout, const S* inp, const S* w,
                        const S* mean, const S* rstd, int N, int C) {
  check_shape("layernorm_backward", N, C);
#pragma omp parallel for
  for (int n = 0; n < N; n++) {
    const S* x = inp + static_cast<size_t>(n) * C;
    const S* d = dout + static_cast<size_t>(n) * C;
    S* dx = dinp + static_cast<size_t>(n) * C;
    const S m = mean[n], rs = rstd[n];
    double dnorm_mean = 0.0, dnorm_norm_mean = 0.0;
    for (int c = 0; c < C; c++) {
      const S norm = (x[c] - m) * rs;
      const S dnorm = w[c] * d[c];
      dnorm_mean += dnorm;
      dnorm_norm_mean += static_cast<double>(dnorm) * norm;
    }
    const S a = static_cast<S>(dnorm_mean / C);
    const S bb = static_cast<S>(dnorm_norm_mean / C);
    for (int c = 0; c < C; c++) {
      const S norm = (x[c] - m) * rs;
      const S dnorm = w[c] * d[c];
      dx[c] += (dnorm - a - norm * bb) * rs;
    }
  }
  const int nblocks = (C + kColBlock - 1) / kColBlock;
#pragma omp parallel for
  for (int blk = 0; blk < nblocks; blk++) {
    const int c0 = blk * kColBlock;
    const int nc = C - c0 < kColBlock ? C - c0 : kColBlock;
    double accw[kColBlock] = {}, accb[kColBlock] = {};
    for (int n = 0; n < N; n++) {
      const S* x = inp + static_cast<size_t>(n) * C + c0;
      const S* d = dout + static_cast<size_t>(n) * C + c0;
      const S m = mean[n], rs = rstd[n];
      for (int j = 0; j < nc; j++) {
        const S norm = (x[j] - m) * rs;
        accw[j] += static_cast<double>(d[j]) * norm;
        accb[j] += d[j];
      }
    }
    for (int j = 0; j < nc; j++) {
      dw[c0 + j] += static_cast<S>(accw[j]);
      if (db) db[c0 + j] += static_cast<S>(accb[j]);
    }
  }
}

// out[N,C] = inp * rstd * w with rstd[N] = 1 / sqrt(mean(inp^2) + eps); w[C].
template <class S>
void rmsnorm_forward(S* out, S* rstd, const S* inp, const S* w, int N, int C, float eps) {
  check_shape("rmsnorm_forward", N, C);
#pragma omp parallel for
  for (int n = 0; n < N; n++) {
    const S* x = inp + static_cast<size_t>(n) * C;
    S* o = out + static_cast<size_t>(n) * C;
    double ss = 0.0;
    for (int c = 0; c < C; c++) ss += static_cast<double>(x[c]) * x[c];
    const S rs = static_cast<S>(1.0 / std::sqrt(ss / C + static_cast<double>(eps)));
    for (int c = 0; c < C; c++) o[c] = x[c] * rs * w[c];
    rstd[n] = rs;
  }
}

// dinp[N,C] += rstd * w * dout - x * rstd^3 / C * sum_c(dout * w * x); dw[C] += sum_n dout * x *
// rstd.
template <class S>
void rmsnorm_backward(S* dinp, S* dw, const S* dout, const S* inp, const S* w, const S* rstd, int N,
                      int C) {
  check_shape("rmsnorm_backward", N, C);
#pragma omp parallel for
  for (int n = 0; n < N; n++) {
    const S* x = inp + static_cast<size_t>(n) * C;
    const S* d = dout + static_cast<size_t>(n) * C;
    S* dx = dinp + static_cast<size_t>(n) * C;
    const S rs = rstd[n];
    double dot = 0.0;
    for (int c = 0; c < C; c++) dot += static_cast<double>(d[c]) * w[c] * x[c];
    const double r = rs;
    const S k = static_cast<S>(r * r * r * dot / C);
    for (int c = 0; c < C; c++) dx[c] += rs * w[c] * d[c] - x[c] * k;
  }
  const int nblocks = (C + kColBlock - 1) / kColBlock;
#pragma omp parallel for
  for (int blk = 0; blk < nblocks; blk++) {
    const int c0 = blk * kColBlock;
    const int nc = C - c0 < kColBlock ? C - c0 : kColBlock;
    double accw[kColBlock] = {};
    for (int n = 0; n < N; n++) {
      const S* x = inp + static_cast<size_t>(n) * C + c0;
      const S* d = dout + static_cast<size_t>(n) * C + c0;
      const S rs = rstd[n];
      for (int j = 0; j < nc; j++) accw[j] += static_cast<double>(d[j]) * (x[j] * rs);
    }
    for (int j = 0; j < nc; j++) dw[c0 + j] += static_cast<S>(accw[j]);
  }
}

template void layernorm_forward<float>(float*, float*, float*, const float*, const float*,
                                       const float*, int, int, float);
template void layernorm_forward<double>(double*, double*, double*, const double*, const double*,
                                        const double*, int, int, float);
template void layernorm_backward<float>(float*, float*, float*, const float*, const float*,
                                        const float*, const float*, const float*, int, int);
template void layernorm_backward<double>(double*, double*, double*, const double*, const double*,
                                         const double*, const double*, const double*, int, int);
template void rmsnorm_forward<float>(float*, float*, const float*, const float*, int, int, float);
template void rmsnorm_forward<double>(double*, double*, const double*, const double*, int, int,
                                      float);
template void rmsnorm_backward<float>(float*, float*, const float*, const float*, const float*,
                                      const float*, int, int);
template void rmsnorm_backward<double>(double*, double*, const double*, const double*,
                                       const double*, const double*, int, int);

}  // namespace mart::cpu
