// Built-in verifiable rewards: rules with a known optimum, for tests and demos (a policy that
// learns should drive the mean score towards 1). Each scores one response (token ids, without a
// terminating EOS: Rollout::response_text_of) in [0, 1], defined for every length including 0.
//
//   target_fraction  share of the response's tokens equal to target_id; 0 when empty.
//                    Optimum: every token is target_id.
//   sorted           share of adjacent pairs (r[i], r[i+1]) with r[i] <= r[i+1]; responses of
//                    fewer than two tokens have no pair and score 0 (so that stopping at once is
//                    not an optimum). Optimum: a non-decreasing response of >= 2 tokens.
//   length_target    max(0, 1 - |n - target_length| / max(target_length, 1)) for a response of n
//                    tokens. Optimum: exactly target_length tokens.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace mart {

struct Rollout;

enum class RewardRule { TargetFraction, Sorted, LengthTarget };

struct RewardRuleTraits {
  const char* name;         // the config spelling
  const char* description;  // one line for help and errors
  double min, max;          // the score's range
};

const RewardRuleTraits& reward_rule_traits(RewardRule r);
// The rule named `name`; mart::Error listing every name otherwise.
RewardRule parse_reward_rule(std::string_view name);

struct RewardRuleParams {
  int32_t target_id = 0;   // target_fraction
  int target_length = 16;  // length_target (>= 0)
};

// The score of `response` (ids, EOS excluded) in [min, max] of the rule's traits.
double score_rule(RewardRule rule, const RewardRuleParams& params,
                  std::span<const int32_t> response);

// Scores [B] (float64) of every sequence of a rollout: the rule over Rollout::response_text_of(b)
// (the response without a terminating EOS).
std::vector<double> score_rollout(RewardRule rule, const RewardRuleParams& params,
                                  const Rollout& rollout);

}  // namespace mart
