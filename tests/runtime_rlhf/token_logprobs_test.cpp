// Token log-probs and entropy from float32 logits (runtime/rlhf/token_logprobs.h): a hand case,
// the backward against finite differences (log-prob and entropy terms, temperature != 1), and a
// negative control.
#include "runtime/rlhf/token_logprobs.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/error.h"
#include "tests/runtime_rlhf/rlhf_math_fixtures.h"

namespace mart::rlhf {
namespace {

TEST(RlhfTokenLogprobs, HandCase) {
  const std::vector<float> logits = {0.0f, std::log(2.0f), std::log(5.0f), 1.0f, 1.0f, 1.0f};
  const std::vector<int32_t> ids = {2, 0};
  std::vector<double> lp(2), ent(2);
  token_logprobs(logits, ids, 3, 1.0, lp, ent);
  // Row 0: p = (1, 2, 5) / 8 up to float32 rounding of the logs.
  const double z1 = static_cast<double>(std::log(2.0f)), z2 = static_cast<double>(std::log(5.0f));
  const double lse = std::log(1.0 + std::exp(z1) + std::exp(z2));
  EXPECT_NEAR(lp[0], z2 - lse, 1e-15);
  EXPECT_NEAR(lp[1], -std::log(3.0), 1e-15);
  EXPECT_NEAR(ent[1], std::log(3.0), 1e-15);  // uniform row: entropy log V
  const double p0 = 1 / std::exp(lse), p1 = std::exp(z1 - lse), p2 = std::exp(z2 - lse);
  EXPECT_NEAR(ent[0], -(p0 * std::log(p0) + p1 * std::log(p1) + p2 * std::log(p2)), 1e-14);
  // Temperature 2 halves the logits.
  token_logprobs(logits, ids, 3, 2.0, lp, {});
  EXPECT_NEAR(lp[0], z2 / 2 - std::log(1.0 + std::exp(z1 / 2) + std::exp(z2 / 2)), 1e-15);
  EXPECT_THROW(token_logprobs(logits, std::vector<int32_t>{3, 0}, 3, 1.0, lp, {}), Error);
  EXPECT_THROW(token_logprobs(logits, ids, 3, 0.0, lp, {}), Error);
}

// L = sum_n g_logp[n] logp[n] + g_ent[n] entropy[n], differentiated w.r.t. the logits by central
// differences taken on float32-representable points (the step is the actual float difference).
double fd_logits_error(const std::vector<float>& logits, const std::vector<int32_t>& ids, int V,
                       double tau, const std::vector<double>& gl, const std::vector<double>& ge,
                       const std::vector<double>& grad) {
  const size_t N = ids.size();
  auto L = [&](const std::vector<float>& x) {
    std::vector<double> lp(N), ent(N);
    token_logprobs(x, ids, V, tau, lp, ent);
    double s = 0;
    for (size_t n = 0; n < N; ++n) s += gl[n] * lp[n] + (ge.empty() ? 0.0 : ge[n] * ent[n]);
    return s;
  };
  double worst = 0, scale = 1e-12;
  std::vector<double> fd(logits.size());
  auto x = logits;
  for (size_t i = 0; i < x.size(); ++i) {
    const float x0 = x[i];
    const float xp = x0 + 1e-2f, xm = x0 - 1e-2f;
    x[i] = xp;
    const double fp = L(x);
    x[i] = xm;
    const double fm = L(x);
    x[i] = x0;
    fd[i] = (fp - fm) / (static_cast<double>(xp) - static_cast<double>(xm));
    scale = std::max(scale, std::abs(fd[i]));
  }
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(grad[i] - fd[i]));
  return worst / scale;
}

TEST(RlhfTokenLogprobs, BackwardMatchesFiniteDifferences) {
  const int N = 4, V = 7;
  const auto ld = testing::uniform(N * V, -3, 3, 61);
  std::vector<float> logits(ld.begin(), ld.end());
  const std::vector<int32_t> ids = {0, 6, 3, 3};
  const auto gl = testing::uniform(N, -1, 1, 62), ge = testing::uniform(N, -1, 1, 63);
  for (double tau : {1.0, 0.7}) {
    std::vector<double> grad(N * V);
    token_logprobs_backward<double>(logits, ids, V, tau, gl, ge, grad);
    EXPECT_LT(fd_logits_error(logits, ids, V, tau, gl, ge, grad), 1e-4) << tau;
    token_logprobs_backward<double>(logits, ids, V, tau, gl, {}, grad);
    EXPECT_LT(fd_logits_error(logits, ids, V, tau, gl, {}, grad), 1e-4) << tau;
    // The float instance is the double one rounded.
    std::vector<float> gf(N * V);
    token_logprobs_backward<float>(logits, ids, V, tau, gl, {}, gf);
    for (int i = 0; i < N * V; ++i) EXPECT_EQ(gf[i], static_cast<float>(grad[i]));
    // Negative control: dropping the entropy term is caught when the loss has one.
    EXPECT_GT(fd_logits_error(logits, ids, V, tau, gl, ge, grad), 1e-2) << tau;
  }
}

}  // namespace
}  // namespace mart::rlhf
