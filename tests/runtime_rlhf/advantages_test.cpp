// PPO/GRPO advantages (runtime/rlhf/advantages.h): hand-computed cases, the gamma = lambda = 1
// identity, padding invariance, whitening statistics and GRPO's equal-score group.
#include "runtime/rlhf/advantages.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/error.h"
#include "tests/runtime_rlhf/rlhf_math_fixtures.h"

namespace mart::rlhf {
namespace {

using testing::prefix_mask;
using testing::uniform;

TEST(RlhfAdvantages, PerTokenRewardsHandCase) {
  const TokenShape s{2, 3};
  const std::vector<double> old_lp = {-1.0, -2.0, -9.0, -0.5, -0.5, -0.5};
  const std::vector<double> ref_lp = {-1.5, -1.0, -7.0, -0.5, -1.0, -0.25};
  const std::vector<double> score = {2.0, -1.0};
  const auto mask = prefix_mask({2, 3}, 3);
  std::vector<double> r(6, 99.0);
  const KlPenaltyStats st = per_token_rewards(old_lp, ref_lp, score, mask, s, 0.1, r);
  // kl = old - ref: row 0: 0.5, -1.0 (position 2 is padding); row 1: 0, 0.5, -0.25.
  EXPECT_DOUBLE_EQ(r[0], -0.05);
  EXPECT_DOUBLE_EQ(r[1], 0.1 + 2.0);  // score on the last masked token
  EXPECT_EQ(r[2], 0.0);               // padding
  EXPECT_DOUBLE_EQ(r[3], 0.0);
  EXPECT_DOUBLE_EQ(r[4], -0.05);
  EXPECT_DOUBLE_EQ(r[5], 0.025 - 1.0);
  EXPECT_DOUBLE_EQ(st.kl_token_mean, (0.5 - 1.0 + 0.0 + 0.5 - 0.25) / 5);
  EXPECT_DOUBLE_EQ(st.kl_seq_mean, (-0.5 + 0.25) / 2);
}

TEST(RlhfAdvantages, PerTokenRewardsRejectsHolesAndBadShapes) {
  const TokenShape s{1, 3};
  std::vector<double> a(3, 0.0), r(3), score = {1.0};
  const std::vector<uint8_t> hole = {1, 0, 1};
  EXPECT_THROW(per_token_rewards(a, a, score, hole, s, 0.1, r), Error);
  const std::vector<uint8_t> two = {1, 2, 0};
  EXPECT_THROW(per_token_rewards(a, a, score, two, s, 0.1, r), Error);
  std::vector<double> short_r(2);
  EXPECT_THROW(per_token_rewards(a, a, score, prefix_mask({3}, 3), s, 0.1, short_r), Error);
  // Control: the same call with a good mask passes.
  EXPECT_NO_THROW(per_token_rewards(a, a, score, prefix_mask({2}, 3), s, 0.1, r));
}

// gamma = lambda = 1: A_t = sum_{k >= t} r_k - V_t and R_t = sum_{k >= t} r_k (reward-to-go).
TEST(RlhfAdvantages, GaeWithGammaLambdaOneIsRewardToGoMinusValue) {
  const TokenShape s{3, 5};
  const auto r = uniform(15, -1, 1, 1), v = uniform(15, -1, 1, 2);
  const auto mask = prefix_mask({5, 3, 1}, 5);
  std::vector<double> adv(15), ret(15);
  gae(r, v, mask, s, 1.0, 1.0, adv, ret);
  for (int b = 0; b < 3; ++b) {
    const int len = std::vector<int>{5, 3, 1}[b];
    for (int t = 0; t < 5; ++t) {
      const int i = b * 5 + t;
      if (t >= len) {
        EXPECT_EQ(adv[i], 0.0);
        EXPECT_EQ(ret[i], 0.0);
        continue;
      }
      double togo = 0;
      for (int k = t; k < len; ++k) togo += r[b * 5 + k];
      EXPECT_NEAR(adv[i], togo - v[i], 1e-14) << b << "," << t;
      EXPECT_NEAR(ret[i], togo, 1e-14) << b << "," << t;
    }
  }
}

TEST(RlhfAdvantages, GaeHandCase) {
  // T = 2, gamma 0.9, lambda 0.8: delta_1 = r1 - V1; delta_0 = r0 + 0.9 V1 - V0;
  // A_1 = delta_1; A_0 = delta_0 + 0.72 A_1.
  const TokenShape s{1, 2};
  const std::vector<double> r = {0.5, 2.0}, v = {1.0, 3.0};
  std::vector<double> adv(2), ret(2);
  gae(r, v, prefix_mask({2}, 2), s, 0.9, 0.8, adv, ret);
  EXPECT_DOUBLE_EQ(adv[1], -1.0);
  EXPECT_DOUBLE_EQ(adv[0], 0.5 + 2.7 - 1.0 + 0.72 * -1.0);
  EXPECT_DOUBLE_EQ(ret[0], adv[0] + 1.0);
  EXPECT_DOUBLE_EQ(ret[1], 2.0);
  // lambda = 0: one-step TD errors.
  gae(r, v, prefix_mask({2}, 2), s, 0.9, 0.0, adv, ret);
  EXPECT_DOUBLE_EQ(adv[0], 0.5 + 2.7 - 1.0);
  EXPECT_THROW(gae(r, v, prefix_mask({2}, 2), s, 1.5, 0.9, adv, ret), Error);
}

// Padding positions (and their garbage) change nothing: a batch padded from T = 4 to T = 7 with
// garbage gives the same rewards, advantages and returns on the masked tokens, and 0 elsewhere.
TEST(RlhfAdvantages, PaddingChangesNothing) {
  const std::vector<int> lens = {4, 2, 3};
  auto run = [&](int64_t T, uint64_t garbage_seed, std::vector<double>& adv_out) {
    const TokenShape s{3, T};
    auto old_lp = uniform(3 * T, -50, 50, garbage_seed),
         ref_lp = uniform(3 * T, -50, 50, 7 + garbage_seed);
    auto v = uniform(3 * T, -50, 50, 9 + garbage_seed);
    const auto base_old = uniform(12, -3, 0, 11), base_ref = uniform(12, -3, 0, 12);
    const auto base_v = uniform(12, -1, 1, 13);
    for (int b = 0; b < 3; ++b)
      for (int t = 0; t < lens[b]; ++t) {
        old_lp[b * T + t] = base_old[b * 4 + t];
        ref_lp[b * T + t] = base_ref[b * 4 + t];
        v[b * T + t] = base_v[b * 4 + t];
      }
    const std::vector<double> score = {1.0, -0.5, 0.25};
    const auto mask = prefix_mask(lens, T);
    std::vector<double> r(3 * T), ret(3 * T);
    adv_out.assign(3 * T, 0.0);
    per_token_rewards(old_lp, ref_lp, score, mask, s, 0.2, r);
    gae(r, v, mask, s, 0.99, 0.95, adv_out, ret);
    whiten(adv_out, mask, s);
    std::vector<double> compact;
    for (int b = 0; b < 3; ++b)
      for (int t = 0; t < T; ++t) {
        if (t < lens[b]) {
          compact.push_back(r[b * T + t]);
          compact.push_back(adv_out[b * T + t]);
          compact.push_back(ret[b * T + t]);
        } else {
          EXPECT_EQ(r[b * T + t], 0.0);
          EXPECT_EQ(adv_out[b * T + t], 0.0);
          EXPECT_EQ(ret[b * T + t], 0.0);
        }
      }
    return compact;
  };
  std::vector<double> a4, a7;
  const auto c4 = run(4, 100, a4), c7 = run(7, 200, a7);
  ASSERT_EQ(c4.size(), c7.size());
  for (size_t i = 0; i < c4.size(); ++i) EXPECT_EQ(c4[i], c7[i]) << i;
}

TEST(RlhfAdvantages, WhitenStatistics) {
  const TokenShape s{2, 4};
  const auto mask = prefix_mask({4, 2}, 4);
  auto x = uniform(8, -3, 5, 21);
  const auto orig = x;
  const MeanVar mv = whiten(x, mask, s);  // unbiased, shift_mean
  double m = 0, ss = 0, n = 6;
  for (int i = 0; i < 8; ++i)
    if (mask[i]) m += x[i];
  m /= n;
  for (int i = 0; i < 8; ++i)
    if (mask[i]) ss += (x[i] - m) * (x[i] - m);
  EXPECT_NEAR(m, 0.0, 1e-14);
  EXPECT_NEAR(ss / (n - 1), mv.var / (mv.var + 1e-8), 1e-12);  // unit unbiased variance
  EXPECT_EQ(x[6], 0.0);
  EXPECT_EQ(x[7], 0.0);
  // shift_mean = false re-adds the mean; population variance divides by n, not n - 1.
  auto y = orig, z = orig;
  whiten(y, mask, s, {Variance::kUnbiased, 1e-8, false});
  const MeanVar pv = whiten(z, mask, s, {Variance::kPopulation, 1e-8, true});
  EXPECT_NEAR(pv.var * n / (n - 1), mv.var, 1e-12);
  for (int i = 0; i < 8; ++i) {
    if (!mask[i]) continue;
    EXPECT_NEAR(y[i], x[i] + mv.mean, 1e-14);
    EXPECT_NEAR(z[i] * std::sqrt(pv.var + 1e-8), x[i] * std::sqrt(mv.var + 1e-8), 1e-12);
  }
  std::vector<double> one = {3.0, 0.0};
  EXPECT_THROW(whiten(one, prefix_mask({1}, 2), TokenShape{1, 2}), Error);
  EXPECT_NO_THROW(whiten(one, prefix_mask({1}, 2), TokenShape{1, 2}, {Variance::kPopulation}));
}

TEST(RlhfAdvantages, GrpoHandCase) {
  const TokenShape s{4, 2};  // P = 2 prompts, G = 2
  const std::vector<double> score = {1.0, 3.0, 0.0, -2.0};
  const auto mask = prefix_mask({2, 1, 2, 0}, 2);
  std::vector<double> adv(8, 99.0);
  grpo_advantages(score, mask, s, {2, Variance::kUnbiased, 1e-4}, adv);
  const double a = 1.0 / (std::sqrt(2.0) + 1e-4);  // unbiased std of {1, 3} is sqrt(2)
  EXPECT_DOUBLE_EQ(adv[0], -a);
  EXPECT_DOUBLE_EQ(adv[1], -a);
  EXPECT_DOUBLE_EQ(adv[2], a);
  EXPECT_EQ(adv[3], 0.0);  // padding
  EXPECT_DOUBLE_EQ(adv[4], a);
  EXPECT_EQ(adv[6] + adv[7], 0.0);  // empty response: nothing to credit
  grpo_advantages(score, mask, s, {2, Variance::kPopulation, 1e-4}, adv);
  EXPECT_DOUBLE_EQ(adv[0], -1.0 / (1.0 + 1e-4));  // population std of {1, 3} is 1
}

TEST(RlhfAdvantages, GrpoEqualScoresGiveZeroNotNan) {
  const TokenShape s{6, 3};
  const std::vector<double> score = {0.1, 0.1, 0.1, 0.7, 0.7, 0.7};
  const auto mask = prefix_mask({3, 2, 1, 3, 3, 3}, 3);
  std::vector<double> adv(18, 99.0);
  for (double eps : {1e-4, 0.0}) {
    grpo_advantages(score, mask, s, {3, Variance::kUnbiased, eps}, adv);
    for (double a : adv) EXPECT_EQ(a, 0.0);
  }
  // Control: a group that differs gives nonzero advantages.
  const std::vector<double> diff = {0.1, 0.2, 0.1, 0.7, 0.7, 0.7};
  grpo_advantages(diff, mask, s, {3, Variance::kUnbiased, 1e-4}, adv);
  EXPECT_NE(adv[0], 0.0);
  EXPECT_THROW(grpo_advantages(score, mask, s, {4}, adv), Error);  // 6 % 4 != 0
  EXPECT_THROW(grpo_advantages(score, mask, s, {1}, adv), Error);  // unbiased needs G >= 2
}

}  // namespace
}  // namespace mart::rlhf
