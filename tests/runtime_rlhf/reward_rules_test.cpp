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
