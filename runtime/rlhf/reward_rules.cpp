#include "runtime/rlhf/reward_rules.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <string>

#include "common/error.h"
#include "runtime/rlhf/rollout.h"

namespace mart {

namespace {

constexpr std::array<RewardRuleTraits, 3> kRules{{
    {"target_fraction", "share of response tokens equal to target_id (0 when empty)", 0.0, 1.0},
    {"sorted", "share of adjacent non-decreasing token pairs (0 below two tokens)", 0.0, 1.0},
    {"length_target", "1 - |length - target_length| / max(target_length, 1), at least 0", 0.0, 1.0},
}};

double target_fraction(int32_t target, std::span<const int32_t> r) {
  if (r.empty()) return 0.0;
  return static_cast<double>(std::count(r.begin(), r.end(), target)) / r.size();
}

double sortedness(std::span<const int32_t> r) {
  if (r.size() < 2) return 0.0;
  size_t ok = 0;
  for (size_t i = 0; i + 1 < r.size(); ++i) ok += r[i] <= r[i + 1];
  return static_cast<double>(ok) / (r.size() - 1);
}

double length_target(int target, size_t n) {
  const double d = std::abs(static_cast<double>(n) - target);
  return std::max(0.0, 1.0 - d / std::max(target, 1));
}

}  // namespace

const RewardRuleTraits& reward_rule_traits(RewardRule r) {
  return kRules.at(static_cast<size_t>(r));
}

RewardRule parse_reward_rule(std::string_view name) {
  std::string names;
  for (size_t i = 0; i < kRules.size(); ++i) {
    if (name == kRules[i].name) return static_cast<RewardRule>(i);
    names += (i ? ", " : "") + std::string(kRules[i].name);
  }
  MART_FAIL("unknown reward rule '", name, "': use one of ", names);
}

double score_rule(RewardRule rule, const RewardRuleParams& params,
                  std::span<const int32_t> response) {
  switch (rule) {
    case RewardRule::TargetFraction:
      return target_fraction(params.target_id, response);
    case RewardRule::Sorted:
      return sortedness(response);
    case RewardRule::LengthTarget:
      MART_CHECK(params.target_length >= 0, "reward rule length_target: target_length ",
                 params.target_length, " must be >= 0");
      return length_target(params.target_length, response.size());
  }
  MART_FAIL("reward rule ", static_cast<int>(rule), " is not a RewardRule");
}

std::vector<double> score_rollout(RewardRule rule, const RewardRuleParams& params,
                                  const Rollout& rollout) {
  std::vector<double> s(rollout.B);
  for (int b = 0; b < rollout.B; ++b) s[b] = score_rule(rule, params, rollout.response_text_of(b));
  return s;
}

}  // namespace mart
