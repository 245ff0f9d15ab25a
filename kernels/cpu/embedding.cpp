// Token + position embedding (llm.c encoder_forward / encoder_backward).
#include <cstddef>
#include <cstdint>

#include "common/error.h"
#include "kernels/cpu/cpu_kernels.h"

namespace mart::cpu {

namespace {
// Channels per task in the backward scatter: a task owns a column slice of dwte/dwpe and walks
// every row in order, so repeated tokens accumulate in a fixed order whatever the thread count.
constexpr int kColBlock = 64;

// Validated before any parallel region: an exception must not escape an OpenMP worker.
void check_tokens(const int32_t* tokens, int B, int T) {
  for (size_t i = 0; i < static_cast<size_t>(B) * T; i++) {
    MART_CHECK(tokens[i] >= 0, "embedding: token ", tokens[i], " at position ", i,
               " is negative (token ids must be in [0, V))");
  }
}
}  // namespace

// out[B,T,C] = wte[tokens[b,t], :] + wpe[t, :]; tokens[B,T], wte[V,C], wpe[maxT,C] or null.
template <class S>
void embedding_forward(S* out, const int32_t* tokens, const S* wte, const S* wpe, int B, int T,
                       int C) {
  MART_CHECK(B >= 0 && T >= 0 && C >= 0, "embedding_forward: negative shape B=", B, " T=", T,
             " C=", C);
  check_tokens(tokens, B, T);
  const int N = B * T;
#pragma omp parallel for
  for (int n = 0; n < N; n++) {
    const int t = n % T;
    S* o = out + static_cast<size_t>(n) * C;
    const S* e = wte + static_cast<size_t>(tokens[n]) * C;
    if (wpe) {
      const S* p = wpe + static_cast<size_t>(t) * C;
      for (int c = 0; c < C; c++) o[c] = e[c] + p[c];
    } else {
      for (int c = 0; c < C; c++) o[c] = e[c];
    }
  }
}

// dwte[V,C] += scatter of dout[B,T,C] by tokens; dwpe[maxT,C] += sum over b of dout[b,t,:].
template <class S>
void embedding_backward(S* dwte, S* dwpe, const S* dout, const int32_t* tokens, int B, int T,
                        int C) {
  MART_CHECK(B >= 0 && T >= 0 && C >= 0, "embedding_backward: negative shape B=", B, " T=", T,
             " C=", C);
  check_tokens(tokens, B, T);
  const int nblocks = (C + kColBlock - 1) / kColBlock;
#pragma omp parallel for
  for (int blk = 0; blk < nblocks; blk++) {
    const int c0 = blk * kColBlock;
    const int c1 = c0 + kColBlock < C ? c0 + kColBlock : C;
    for (int b = 0; b < B; b++) {
      for (int t = 0; t < T; t++) {
        const size_t n = static_cast<size_t>(b) * T + t;
        const S* d = dout + n * C;
        S* dw = dwte + static_cast<size_t>(tokens[n]) * C;
        for (int c = c0; c < c1; c++) dw[c] += d[c];
      }
    }
  }
  if (dwpe) {
#pragma omp parallel for
    for (int t = 0; t < T; t++) {
      S* dp = dwpe + static_cast<size_t>(t) * C;
      for (int b = 0; b < B; b++) {
        const S* d = dout + (static_cast<size_t>(b) * T + t) * C;
        for (int c = 0; c < C; c++) dp[c] += d[c];
      }
    }
  }
}

template void embedding_forward<float>(float*, const int32_t*, const float*, const float*, int, int,
                                       int);
template void embedding_forward<double>(double*, const int32_t*, const double*, const double*, int,
                                        int, int);
template void embedding_backward<float>(float*, float*, const float*, const int32_t*, int, int,
                                        int);
template void embedding_backward<double>(double*, double*, const double*, const int32_t*, int, int,
                                         int);

}  // namespace mart::cpu
