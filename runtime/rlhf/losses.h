// PPO and GRPO losses with their gradients w.r.t. the model outputs they take, so a trainer can
// push them into the actor's and the critic's backward. Pure float64 functions on [B, T] arrays
// (token_batch.h); no device, no Session. Each returns the scalar loss and writes the gradient
// into a caller-owned [B, T] span (overwritten, not accumulated; 0 at padding). The gradients
// match torch.autograd on the same formulas, including torch's tie rule for max(a, b) (half the
// gradient to each side when a == b) and clamp's (gradient passes at the bounds, inclusive).
// docs/RLHF.md "Advantages and losses" gives the formulas exactly as implemented here.
#pragma once
#include <cstdint>
#include <span>

#include "runtime/rlhf/token_batch.h"

namespace mart::rlhf {

// How per-token losses l[b,t] become one number:
//   kTokenMean:    sum_{b,t} m l / sum_{b,t} m      (mean over the batch's masked tokens; TRL PPO,
//                                                   DAPO)
//   kSequenceMean: (1/B') sum_b [sum_t m l / sum_t m]   over the B' rows with >= 1 masked token
//                                                   (the GRPO paper's per-sequence mean)
// Both are a weighted sum sum w[b,t] l[b,t]; the gradient of a token is w[b,t] dl/dx.
enum class Reduction { kTokenMean, kSequenceMean };

// The weights w [B, T] of the reduction (0 at padding; all 0 if the mask is empty).
void reduction_weights(std::span<const uint8_t> mask, TokenShape shape, Reduction r,
                       std::span<double> w);

struct PolicyLossResult {
  double loss = 0;
  double clip_fraction = 0;  // masked-token mean of [clipped term > unclipped term]
  double approx_kl = 0;      // masked-token mean of (ratio - 1) - log(ratio)  (k3 of old||new)
};

// PPO clipped policy loss. Per token, with ratio = exp(logp - logp_old):
//   l = max(-A * ratio, -A * clip(ratio, 1 - clip_eps, 1 + clip_eps))
// reduced with `reduction`. clip_fraction and approx_kl are always token means over the mask.
//   logp: [B, T] the current policy's log-probs of the sampled tokens (differentiated);
//   logp_old: [B, T] the sampling policy's (constant); advantages: [B, T] (constant);
//   grad_logp (out): [B, T] d loss / d logp. clip_eps in (0, 1) (checked).
PolicyLossResult clipped_policy_loss(std::span<const double> logp, std::span<const double> logp_old,
                                     std::span<const double> advantages,
                                     std::span<const uint8_t> mask, TokenShape shape,
                                     double clip_eps, Reduction reduction,
                                     std::span<double> grad_logp);

struct ValueLossResult {
  double loss = 0;
  double clip_fraction = 0;  // masked-token mean of [clipped error > unclipped error]
};

// PPO clipped value loss, masked token mean:
//   l = 0.5 * max((V - R)^2, (clip(V, V_old - clip_eps_v, V_old + clip_eps_v) - R)^2)
//   values: [B, T] the critic's current V (differentiated); values_old: [B, T] the V used for GAE;
//   returns: [B, T] R from gae(); grad_values (out): [B, T] d loss / d V. clip_eps_v > 0.
ValueLossResult clipped_value_loss(std::span<const double> values,
                                   std::span<const double> values_old,
                                   std::span<const double> returns, std::span<const uint8_t> mask,
                                   TokenShape shape, double clip_eps_v,
                                   std::span<double> grad_values);

// GRPO's KL penalty in the loss (k3 estimator of KL(policy || reference)), per token:
//   l = beta * (exp(logp_ref - logp) - (logp_ref - logp) - 1),  dl/dlogp = beta*(1 - exp(ref-logp))
// reduced with `reduction`; returns the loss (add it to the policy loss, and grad_logp to
// clipped_policy_loss's gradient). logp: [B, T] (differentiated); logp_ref: [B, T] (constant);
// grad_logp (out): [B, T]. beta >= 0.
double kl_k3_loss(std::span<const double> logp, std::span<const double> logp_ref,
                  std::span<const uint8_t> mask, TokenShape shape, double beta, Reduction reduction,
                  std::span<double> grad_logp);

}  // namespace mart::rlhf
