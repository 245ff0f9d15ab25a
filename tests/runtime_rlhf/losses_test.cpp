// PPO/GRPO losses (runtime/rlhf/losses.h): hand cases, mask handling, finite-difference checks of
// every gradient, and a negative control showing the check catches a wrong gradient.
#include "runtime/rlhf/losses.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/error.h"
#include "tests/runtime_rlhf/rlhf_math_fixtures.h"

namespace mart::rlhf {
namespace {

using testing::fd_error;
using testing::prefix_mask;
using testing::uniform;

constexpr double kFdTol = 1e-7;

TEST(RlhfLosses, ClippingInactiveWhenRatioIsOne) {
  const TokenShape s{2, 3};
  const auto lp = uniform(6, -3, 0, 1), adv = uniform(6, -2, 2, 2);
  const auto mask = prefix_mask({3, 2}, 3);
  std::vector<double> g(6);
  const PolicyLossResult r =
      clipped_policy_loss(lp, lp, adv, mask, s, 0.2, Reduction::kTokenMean, g);
  double mean_adv = 0;
  for (int i = 0; i < 6; ++i) mean_adv += mask[i] ? adv[i] / 5 : 0.0;
  EXPECT_NEAR(r.loss, -mean_adv, 1e-15);
  EXPECT_EQ(r.clip_fraction, 0.0);
  EXPECT_EQ(r.approx_kl, 0.0);
  for (int i = 0; i < 6; ++i) EXPECT_DOUBLE_EQ(g[i], mask[i] ? -adv[i] / 5 : 0.0);
}

TEST(RlhfLosses, PolicyLossHandClipping) {
  const TokenShape s{1, 3};
  // ratios 1.5, 1.5, 0.5 with A = 1, -1, 1 and eps 0.2:
  //   A=1,  r=1.5: max(-1.5, -1.2) = -1.2, clipped, grad 0
  //   A=-1, r=1.5: max(1.5, 1.2) = 1.5, unclipped, grad -A r = 1.5
  //   A=1,  r=0.5: max(-0.5, -0.8) = -0.5, unclipped, grad -0.5
  const std::vector<double> old_lp = {0.0, 0.0, 0.0};
  const std::vector<double> lp = {std::log(1.5), std::log(1.5), std::log(0.5)};
  const std::vector<double> adv = {1.0, -1.0, 1.0};
  std::vector<double> g(3);
  const auto r =
      clipped_policy_loss(lp, old_lp, adv, prefix_mask({3}, 3), s, 0.2, Reduction::kTokenMean, g);
  EXPECT_NEAR(r.loss, (-1.2 + 1.5 - 0.5) / 3, 1e-15);
  EXPECT_NEAR(r.clip_fraction, 1.0 / 3, 1e-15);
  EXPECT_NEAR(g[0], 0.0, 1e-15);
  EXPECT_NEAR(g[1], 1.5 / 3, 1e-15);
  EXPECT_NEAR(g[2], -0.5 / 3, 1e-15);
  EXPECT_NEAR(r.approx_kl, ((0.5 - std::log(1.5)) * 2 + (-0.5 - std::log(0.5))) / 3, 1e-15);
  EXPECT_THROW(
      clipped_policy_loss(lp, old_lp, adv, prefix_mask({3}, 3), s, 0.0, Reduction::kTokenMean, g),
      Error);
}

TEST(RlhfLosses, SequenceMeanWeights) {
  const TokenShape s{3, 4};
  std::vector<double> w(12);
  reduction_weights(prefix_mask({4, 2, 0}, 4), s, Reduction::kSequenceMean, w);
  EXPECT_DOUBLE_EQ(w[0], 1.0 / 8);  // 2 non-empty rows, 4 tokens
  EXPECT_DOUBLE_EQ(w[5], 1.0 / 4);  // 2 non-empty rows, 2 tokens
  EXPECT_EQ(w[6] + w[8], 0.0);
  reduction_weights(prefix_mask({4, 2, 0}, 4), s, Reduction::kTokenMean, w);
  EXPECT_DOUBLE_EQ(w[5], 1.0 / 6);
}

struct PolicyCase {
  TokenShape s{3, 5};
  std::vector<uint8_t> mask = prefix_mask({5, 3, 4}, 5);
  std::vector<double> old_lp = uniform(15, -3, -0.1, 31);
  std::vector<double> lp = old_lp;
  std::vector<double> adv = uniform(15, -2, 2, 33);
  PolicyCase() {
    // Ratios spread over [0.6, 1.5] so some tokens clip on each side, away from the kinks.
    const auto d = uniform(15, -0.5, 0.4, 32);
    for (int i = 0; i < 15; ++i) {
      double x = d[i];
      if (std::abs(std::exp(x) - 1.2) < 0.02 || std::abs(std::exp(x) - 0.8) < 0.02) x += 0.05;
      lp[i] += x;
    }
  }
};

TEST(RlhfLosses, PolicyLossGradientMatchesFiniteDifferences) {
  PolicyCase c;
  for (Reduction red : {Reduction::kTokenMean, Reduction::kSequenceMean}) {
    std::vector<double> g(15), scratch(15);
    const auto r = clipped_policy_loss(c.lp, c.old_lp, c.adv, c.mask, c.s, 0.2, red, g);
    EXPECT_GT(r.clip_fraction, 0.0);  // the case exercises clipping
    auto f = [&](const std::vector<double>& x) {
      return clipped_policy_loss(x, c.old_lp, c.adv, c.mask, c.s, 0.2, red, scratch).loss;
    };
    EXPECT_LT(fd_error(f, c.lp, g), kFdTol);
  }
}

// Negative control: the finite-difference check rejects the gradient that ignores clipping.
TEST(RlhfLosses, FiniteDifferenceCheckCatchesAWrongPolicyGradient) {
  PolicyCase c;
  std::vector<double> g(15), scratch(15);
  clipped_policy_loss(c.lp, c.old_lp, c.adv, c.mask, c.s, 0.2, Reduction::kTokenMean, g);
  std::vector<double> w(15), wrong(15);
  reduction_weights(c.mask, c.s, Reduction::kTokenMean, w);
  for (int i = 0; i < 15; ++i) wrong[i] = w[i] * -c.adv[i] * std::exp(c.lp[i] - c.old_lp[i]);
  auto f = [&](const std::vector<double>& x) {
    return clipped_policy_loss(x, c.old_lp, c.adv, c.mask, c.s, 0.2, Reduction::kTokenMean, scratch)
        .loss;
  };
  EXPECT_GT(fd_error(f, c.lp, wrong), 1e-2);
  EXPECT_LT(fd_error(f, c.lp, g), kFdTol);
}

TEST(RlhfLosses, PaddingChangesNothing) {
  PolicyCase c;
  auto garbage = c;
  const auto junk = uniform(15, -40, 40, 77);
  for (int i = 0; i < 15; ++i)
    if (!c.mask[i]) garbage.lp[i] = junk[i], garbage.old_lp[i] = -junk[i], garbage.adv[i] = junk[i];
  std::vector<double> g1(15), g2(15), v1(15), v2(15), k1(15), k2(15);
  const auto a =
      clipped_policy_loss(c.lp, c.old_lp, c.adv, c.mask, c.s, 0.2, Reduction::kSequenceMean, g1);
  const auto b = clipped_policy_loss(garbage.lp, garbage.old_lp, garbage.adv, c.mask, c.s, 0.2,
                                     Reduction::kSequenceMean, g2);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(a.clip_fraction, b.clip_fraction);
  EXPECT_EQ(a.approx_kl, b.approx_kl);
  EXPECT_EQ(g1, g2);
  EXPECT_EQ(clipped_value_loss(c.lp, c.old_lp, c.adv, c.mask, c.s, 0.1, v1).loss,
            clipped_value_loss(garbage.lp, garbage.old_lp, garbage.adv, c.mask, c.s, 0.1, v2).loss);
  EXPECT_EQ(v1, v2);
  EXPECT_EQ(kl_k3_loss(c.lp, c.old_lp, c.mask, c.s, 0.1, Reduction::kTokenMean, k1),
            kl_k3_loss(garbage.lp, garbage.old_lp, c.mask, c.s, 0.1, Reduction::kTokenMean, k2));
  EXPECT_EQ(k1, k2);
  for (int i = 0; i < 15; ++i)
    if (!c.mask[i]) {
      EXPECT_EQ(g1[i] + v1[i] + k1[i], 0.0);
    }
}

TEST(RlhfLosses, ValueLossHandCaseAndGradient) {
  const TokenShape s1{1, 3};
  // V_old = 0, eps 0.5, R = 2: V = 0.2 (inside: 0.5*(1.8^2)); V = 1.0 (clipped to 0.5: error
  // 2.25 > 1, so the clipped error wins, grad 0); V = -1 with R = -2 (clipped -0.5 gives 2.25 >
  // 1: grad 0).
  const std::vector<double> v = {0.2, 1.0, -1.0}, vo = {0, 0, 0}, R = {2.0, 2.0, -2.0};
  std::vector<double> g(3);
  const auto r = clipped_value_loss(v, vo, R, prefix_mask({3}, 3), s1, 0.5, g);
  EXPECT_NEAR(r.loss, 0.5 * (1.8 * 1.8 + 2.25 + 2.25) / 3, 1e-15);
  EXPECT_NEAR(r.clip_fraction, 2.0 / 3, 1e-15);
  EXPECT_NEAR(g[0], -1.8 / 3, 1e-15);
  EXPECT_EQ(g[1], 0.0);
  EXPECT_EQ(g[2], 0.0);

  const TokenShape s{3, 5};
  const auto mask = prefix_mask({5, 2, 4}, 5);
  const auto vold = uniform(15, -1, 1, 41), ret = uniform(15, -2, 2, 42);
  auto vals = vold;
  const auto d = uniform(15, -0.6, 0.6, 43);
  for (int i = 0; i < 15; ++i)
    vals[i] += std::abs(std::abs(d[i]) - 0.3) < 0.02 ? d[i] + 0.05 : d[i];
  std::vector<double> gv(15), scratch(15);
  const auto rv = clipped_value_loss(vals, vold, ret, mask, s, 0.3, gv);
  EXPECT_GT(rv.clip_fraction, 0.0);
  auto f = [&](const std::vector<double>& x) {
    return clipped_value_loss(x, vold, ret, mask, s, 0.3, scratch).loss;
  };
  EXPECT_LT(fd_error(f, vals, gv), kFdTol);
  // Negative control: the unclipped gradient (V - R) / n is wrong where clipping is active.
  std::vector<double> wrong(15);
  for (int i = 0; i < 15; ++i) wrong[i] = mask[i] ? (vals[i] - ret[i]) / 11 : 0.0;
  EXPECT_GT(fd_error(f, vals, wrong), 1e-2);
}

TEST(RlhfLosses, KlK3LossAndGradient) {
  const TokenShape s{3, 5};
  const auto mask = prefix_mask({5, 1, 3}, 5);
  const auto lp = uniform(15, -3, -0.1, 51), ref = uniform(15, -3, -0.1, 52);
  std::vector<double> g(15), scratch(15);
  // k3 is 0 with zero gradient where the policy equals the reference, and > 0 elsewhere.
  EXPECT_EQ(kl_k3_loss(lp, lp, mask, s, 0.1, Reduction::kTokenMean, g), 0.0);
  for (double x : g) EXPECT_EQ(x, 0.0);
  for (Reduction red : {Reduction::kTokenMean, Reduction::kSequenceMean}) {
    const double loss = kl_k3_loss(lp, ref, mask, s, 0.1, red, g);
    EXPECT_GT(loss, 0.0);
    auto f = [&](const std::vector<double>& x) {
      return kl_k3_loss(x, ref, mask, s, 0.1, red, scratch);
    };
    EXPECT_LT(fd_error(f, lp, g), kFdTol);
  }
  // One token by hand: d = ref - logp = 0.5: beta (e^0.5 - 0.5 - 1), grad beta (1 - e^0.5).
  std::vector<double> g1(1);
  const double l1 =
      kl_k3_loss(std::vector<double>{-1.0}, std::vector<double>{-0.5}, prefix_mask({1}, 1),
                 TokenShape{1, 1}, 0.2, Reduction::kTokenMean, g1);
  EXPECT_NEAR(l1, 0.2 * (std::exp(0.5) - 1.5), 1e-15);
  EXPECT_NEAR(g1[0], 0.2 * (1 - std::exp(0.5)), 1e-15);
}

}  // namespace
}  // namespace mart::rlhf
