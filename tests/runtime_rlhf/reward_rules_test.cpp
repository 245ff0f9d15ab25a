// Built-in reward rules (runtime/rlhf/reward_rules.h): hand-computed scores, empty and short
// responses, the [0, 1] range over random responses, and the name table.
#include "runtime/rlhf/reward_rules.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/rng.h"
#include "tests/common/test_util.h"

namespace mart {
namespace {

using testutil::error_of;
using testutil::has;
using V = std::vector<int32_t>;

double score(RewardRule r, const V& v, RewardRuleParams p = {}) {
  return score_rule(r, p, v);
}

TEST(RewardRules, TargetFractionHandCases) {
  RewardRuleParams p;
  p.target_id = 7;
  EXPECT_DOUBLE_EQ(score(RewardRule::TargetFraction, {7, 7, 7, 7}, p), 1.0);
  EXPECT_DOUBLE_EQ(score(RewardRule::TargetFraction, {7, 1, 7, 2}, p), 0.5);
  EXPECT_DOUBLE_EQ(score(RewardRule::TargetFraction, {1, 2, 3}, p), 0.0);
  EXPECT_DOUBLE_EQ(score(RewardRule::TargetFraction, {}, p), 0.0);
  p.target_id = 1;  // the control: the same response, another target
  EXPECT_DOUBLE_EQ(score(RewardRule::TargetFraction, {7, 1, 7, 2}, p), 0.25);
}

TEST(RewardRules, SortednessHandCases) {
  EXPECT_DOUBLE_EQ(score(RewardRule::Sorted, {1, 2, 2, 5}), 1.0);
  EXPECT_DOUBLE_EQ(score(RewardRule::Sorted, {5, 4, 3, 2}), 0.0);
  EXPECT_DOUBLE_EQ(score(RewardRule::Sorted, {1, 3, 2, 4, 0}), 0.5);  // 2 of 4 pairs
  EXPECT_DOUBLE_EQ(score(RewardRule::Sorted, {3, 3}), 1.0);
  EXPECT_DOUBLE_EQ(score(RewardRule::Sorted, {3}), 0.0);  // no pair: not rewarded
  EXPECT_DOUBLE_EQ(score(RewardRule::Sorted, {}), 0.0);
}

TEST(RewardRules, LengthTargetHandCases) {
  RewardRuleParams p;
  p.target_length = 4;
  EXPECT_DOUBLE_EQ(score(RewardRule::LengthTarget, {1, 2, 3, 4}, p), 1.0);
  EXPECT_DOUBLE_EQ(score(RewardRule::LengthTarget, {1, 2}, p), 0.5);
  EXPECT_DOUBLE_EQ(score(RewardRule::LengthTarget, {1, 2, 3, 4, 5, 6}, p), 0.5);
  EXPECT_DOUBLE_EQ(score(RewardRule::LengthTarget, V(9, 1), p), 0.0);  // clamped
  EXPECT_DOUBLE_EQ(score(RewardRule::LengthTarget, {}, p), 0.0);
  p.target_length = 0;
  EXPECT_DOUBLE_EQ(score(RewardRule::LengthTarget, {}, p), 1.0);
  EXPECT_DOUBLE_EQ(score(RewardRule::LengthTarget, {1}, p), 0.0);
  p.target_length = -1;
  EXPECT_TRUE(has(error_of([&] { score(RewardRule::LengthTarget, {1}, p); }), "target_length -1"));
}

TEST(RewardRules, EveryRuleStaysInItsRangeOnRandomResponses) {
  Xoshiro256 rng(3);
  for (RewardRule r : {RewardRule::TargetFraction, RewardRule::Sorted, RewardRule::LengthTarget}) {
    const auto& t = reward_rule_traits(r);
    bool seen_max = false, seen_min = false;
    for (int i = 0; i < 500; ++i) {
      V v(rng.below(8));
      for (auto& x : v) x = static_cast<int32_t>(rng.below(3));
      RewardRuleParams p;
      p.target_id = 1;
      p.target_length = 3;
      const double s = score_rule(r, p, v);
      EXPECT_GE(s, t.min) << t.name;
      EXPECT_LE(s, t.max) << t.name;
      seen_max |= s == t.max;
      seen_min |= s == t.min;
    }
    EXPECT_TRUE(seen_max && seen_min) << t.name << ": the range should be reached both ways";
  }
}

TEST(RewardRules, NamesParseAndUnknownNamesListTheRules) {
  for (RewardRule r : {RewardRule::TargetFraction, RewardRule::Sorted, RewardRule::LengthTarget})
    EXPECT_EQ(parse_reward_rule(reward_rule_traits(r).name), r);
  EXPECT_TRUE(has(error_of([] { parse_reward_rule("sortd"); }),
                  "unknown reward rule 'sortd': use one of target_fraction, sorted, "
                  "length_target"));
}

}  // namespace
}  // namespace mart

#include "runtime/rlhf/reward_command.h"
#include "runtime/rlhf/rollout.h"

namespace mart {
namespace {

// A hand-made rollout of P = 1, G = 2, T = 4, EOS id 9: sequence 0 is [3, 3, 9] (ended by EOS),
// sequence 1 is [5, 3, 3, 3] (full length).
Rollout hand_rollout() {
  Rollout r;
  r.P = 1, r.G = 2, r.B = 2, r.T = 4;
  r.prompts = {{1, 2}};
  r.response = {3, 3, 9, 0, 5, 3, 3, 3};
  r.mask = {1, 1, 1, 0, 1, 1, 1, 1};
  r.length = {3, 4};
  r.ended_by_eos = {1, 0};
  return r;
}

TEST(RewardRules, ScoreRolloutScoresResponsesWithoutTheirEos) {
  const Rollout r = hand_rollout();
  RewardRuleParams p;
  p.target_id = 3;
  EXPECT_EQ(score_rollout(RewardRule::TargetFraction, p, r), (std::vector<double>{1.0, 0.75}));
  EXPECT_EQ(score_rollout(RewardRule::Sorted, p, r), (std::vector<double>{1.0, 2.0 / 3}));
  const auto s = rollout_reward_samples(r);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(std::vector<int32_t>(s[0].response.begin(), s[0].response.end()), (V{3, 3}));
  EXPECT_EQ(std::vector<int32_t>(s[1].response.begin(), s[1].response.end()), (V{5, 3, 3, 3}));
  EXPECT_EQ(std::vector<int32_t>(s[1].prompt.begin(), s[1].prompt.end()), (V{1, 2}));
}

}  // namespace
}  // namespace mart
