// The path a trainer takes, end to end: float32 logits [B*T, V] -> token log-probs and entropy ->
// PPO clipped policy loss + GRPO k3 KL loss - entropy bonus -> d loss / d logp and d entropy ->
// token_logprobs_backward -> d loss / d logits, checked against finite differences of the whole
// chain (the pieces compose; no factor lost between the per-token gradients and the logits).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "runtime/rlhf/losses.h"
#include "runtime/rlhf/token_logprobs.h"
#include "tests/runtime_rlhf/rlhf_math_fixtures.h"

namespace mart::rlhf {
namespace {

struct Chain {
  static constexpr int B = 2, T = 3, V = 5;
  TokenShape s{B, T};
  std::vector<uint8_t> mask = testing::prefix_mask({3, 2}, T);
  std::vector<int32_t> ids = {1, 4, 0, 2, 2, 3};
  std::vector<double> old_lp, ref_lp, adv = testing::uniform(B * T, -2, 2, 72);
  double tau = 0.9, beta = 0.05, ent_coef = 0.01;

  explicit Chain(const std::vector<float>& logits) {
    // Old and reference log-probs near the current ones, so some ratios clip and some do not.
    std::vector<double> lp(B * T);
    token_logprobs(logits, ids, V, tau, lp, {});
    const auto d = testing::uniform(B * T, -0.4, 0.4, 73),
               e = testing::uniform(B * T, -0.3, 0.3, 74);
    for (int i = 0; i < B * T; ++i) old_lp.push_back(lp[i] + d[i]), ref_lp.push_back(lp[i] + e[i]);
  }

  // loss(logits); with grad non-null also d loss / d logits.
  double loss(const std::vector<float>& logits, std::vector<double>* grad) const {
    std::vector<double> lp(B * T), ent(B * T), g_pol(B * T), g_kl(B * T), w(B * T);
    token_logprobs(logits, ids, V, tau, lp, ent);
    const double pol =
        clipped_policy_loss(lp, old_lp, adv, mask, s, 0.2, Reduction::kTokenMean, g_pol).loss;
    const double kl = kl_k3_loss(lp, ref_lp, mask, s, beta, Reduction::kTokenMean, g_kl);
    reduction_weights(mask, s, Reduction::kTokenMean, w);
    double ent_mean = 0;
    for (int i = 0; i < B * T; ++i) ent_mean += w[i] * ent[i];
    if (grad) {
      std::vector<double> g_logp(B * T), g_ent(B * T);
      for (int i = 0; i < B * T; ++i) g_logp[i] = g_pol[i] + g_kl[i], g_ent[i] = -ent_coef * w[i];
      grad->assign(logits.size(), 0.0);
      token_logprobs_backward<double>(logits, ids, V, tau, g_logp, g_ent, *grad);
    }
    return pol + kl - ent_coef * ent_mean;
  }
};

double chain_fd_error(const Chain& c, std::vector<float> x, const std::vector<double>& grad) {
  double worst = 0, scale = 1e-12;
  std::vector<double> fd(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const float x0 = x[i], xp = x0 + 1e-2f, xm = x0 - 1e-2f;
    x[i] = xp;
    const double fp = c.loss(x, nullptr);
    x[i] = xm;
    const double fm = c.loss(x, nullptr);
    x[i] = x0;
    fd[i] = (fp - fm) / (static_cast<double>(xp) - static_cast<double>(xm));
    scale = std::max(scale, std::abs(fd[i]));
  }
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(grad[i] - fd[i]));
  return worst / scale;
}

TEST(RlhfLossChain, LogitsGradientMatchesFiniteDifferences) {
  const auto ld = testing::uniform(Chain::B * Chain::T * Chain::V, -2, 2, 71);
  const std::vector<float> logits(ld.begin(), ld.end());
  const Chain c(logits);
  std::vector<double> grad;
  c.loss(logits, &grad);
  {  // the case exercises clipping
    std::vector<double> lp(6), g(6);
    token_logprobs(logits, c.ids, Chain::V, c.tau, lp, {});
    EXPECT_GT(clipped_policy_loss(lp, c.old_lp, c.adv, c.mask, c.s, 0.2, Reduction::kTokenMean, g)
                  .clip_fraction,
              0.0);
  }
  EXPECT_LT(chain_fd_error(c, logits, grad), 1e-4);
  // Padding rows get no gradient.
  for (int v = 0; v < Chain::V; ++v) EXPECT_EQ(grad[5 * Chain::V + v], 0.0);
  // Negative control: forgetting the temperature's 1/tau in the backward is caught.
  std::vector<double> wrong = grad;
  for (double& g : wrong) g *= c.tau;
  EXPECT_GT(chain_fd_error(c, logits, wrong), 1e-2);
}

}  // namespace
}  // namespace mart::rlhf
