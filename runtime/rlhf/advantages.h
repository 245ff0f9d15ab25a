// PPO and GRPO advantages: per-token rewards with a KL penalty, GAE, advantage whitening and
// GRPO's group-relative advantages. Pure float64 functions on [B, T] arrays (token_batch.h); no
// device, no Session. Outputs are written into caller-owned spans of the same shape; entries at
// masked-out (padding) positions are written as 0. docs/RLHF.md "Advantages and losses" gives the
// formulas exactly as implemented here.
#pragma once
#include <cstdint>
#include <span>

#include "runtime/rlhf/token_batch.h"

namespace mart::rlhf {

// Summary of per_token_rewards, for metrics and the KL controller.
struct KlPenaltyStats {
  double kl_token_mean = 0;  // mean over masked tokens of (logp_old - logp_ref)
  double kl_seq_mean = 0;    // mean over sequences of sum_t (logp_old - logp_ref): the "KL" the
                             // adaptive controller compares with its target (TRL's mean_kl)
};

// PPO per-token rewards (InstructGPT / TRL): on every masked token
//   r[b,t] = -kl_coef * (logp_old[b,t] - logp_ref[b,t]),
// plus score[b] on the last masked token of row b. Padding gets r = 0. A row with no masked token
// gets no reward (its score is dropped: there is no token to credit).
//   logp_old, logp_ref: [B, T] log-probs of the sampled tokens under the sampling policy and the
//                       frozen reference (natural log); score: [B]; mask: [B, T] response mask
//                       (1s then 0s per row, checked); rewards (out): [B, T].
KlPenaltyStats per_token_rewards(std::span<const double> logp_old, std::span<const double> logp_ref,
                                 std::span<const double> score, std::span<const uint8_t> mask,
                                 TokenShape shape, double kl_coef, std::span<double> rewards);

// Generalized advantage estimation, per row over its masked prefix of length L:
//   delta_t = r_t + gamma * V_{t+1} - V_t   (V_L = 0: no value past the last masked token)
//   A_t = delta_t + gamma * lambda * A_{t+1}   (A_L = 0)
//   R_t = A_t + V_t                            (the critic's regression target)
//   rewards, values: [B, T] (values = the critic's V_old at the sampled tokens; entries at padding
//   are ignored); mask: response mask; advantages, returns (out): [B, T], 0 at padding.
//   gamma, lambda in [0, 1] (checked).
void gae(std::span<const double> rewards, std::span<const double> values,
         std::span<const uint8_t> mask, TokenShape shape, double gamma, double lambda,
         std::span<double> advantages, std::span<double> returns);

// Which variance whitening and GRPO divide by, over n entries with mean m:
//   kUnbiased:   sum (x - m)^2 / (n - 1)   (Bessel; TRL's masked_var default and torch.std)
//   kPopulation: sum (x - m)^2 / n         (OpenRLHF's advantage normalisation)
enum class Variance { kUnbiased, kPopulation };

struct WhitenOptions {
  Variance variance = Variance::kUnbiased;  // TRL's choice (masked_whiten -> masked_var)
  double eps = 1e-8;                        // inside the square root, as TRL: 1 / sqrt(var + eps)
  bool shift_mean = true;  // true: result has mean 0 (TRL does this for advantages);
                           // false: the mean is added back (TRL's whiten_rewards)
};

// Whitening over all masked entries of the batch, in place:
//   x <- (x - mean) / sqrt(var + eps)   [+ mean if !shift_mean]
// where mean and var are over masked entries only; padding entries are set to 0. Needs >= 2
// masked entries for kUnbiased and >= 1 for kPopulation (checked). Returns {mean, var}.
struct MeanVar {
  double mean = 0;
  double var = 0;
};
MeanVar whiten(std::span<double> x, std::span<const uint8_t> mask, TokenShape shape,
               const WhitenOptions& opt = {});

struct GrpoOptions {
  int64_t group_size = 0;                   // G samples per prompt; B = P * G, grouped contiguously
  Variance variance = Variance::kUnbiased;  // TRL's GRPO: rewards.view(-1, G).std() (unbiased)
  double eps = 1e-4;                        // added to the std (not the variance), as TRL
};

// GRPO group-relative advantages: for sample i of group g (rows g*G .. g*G+G-1)
//   A_i = (s_i - mean_g) / (std_g + eps),  std_g = sqrt(var_g) with opt.variance,
// broadcast to every masked token of row i (padding 0). A group of equal scores gets A = 0
// exactly. score: [B]; mask: [B, T] (any 0/1 mask); advantages (out): [B, T]. G >= 2 for
// kUnbiased, >= 1 for kPopulation, and B % G == 0 (checked).
void grpo_advantages(std::span<const double> score, std::span<const uint8_t> mask, TokenShape shape,
                     const GrpoOptions& opt, std::span<double> advantages);

}  // namespace mart::rlhf
