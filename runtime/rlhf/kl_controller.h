// The coefficient of PPO's per-token KL penalty (advantages.h per_token_rewards), fixed or
// adaptive, behind one interface so a trainer holds a KlController and never asks which.
//   Fixed:    value() = init forever.
//   Adaptive (Ziegler et al. 2019, "Fine-Tuning Language Models from Human Preferences"):
//     e = clip(kl / target - 1, -0.2, 0.2);  value *= 1 + e * n_steps / horizon
//   where kl is the observed KL of the rollout (KlPenaltyStats::kl_seq_mean: per-sequence sum of
//   logp_old - logp_ref, averaged over sequences, in nats) and n_steps the number of samples (or
//   steps; the caller picks the unit, horizon is in the same unit) since the last update.
// State is one double (value()), so a checkpoint saves value() and restores it with set_value().
#pragma once
#include <cstdint>
#include <memory>

namespace mart::rlhf {

enum class KlControl { kFixed, kAdaptive };

struct KlControlConfig {
  KlControl kind = KlControl::kFixed;
  double init = 0.05;    // initial coefficient (>= 0)
  double target = 6.0;   // adaptive: target KL in nats (> 0)
  double horizon = 1e4;  // adaptive: horizon in the unit of n_steps (> 0)
};

class KlController {
 public:
  virtual ~KlController() = default;
  // The coefficient to use for the next rollout.
  virtual double value() const = 0;
  // Observes the KL of the last rollout and the steps it covered; adaptive controllers adjust.
  virtual void update(double observed_kl, int64_t n_steps) = 0;
  // Restores the state from a checkpoint.
  virtual void set_value(double v) = 0;
};

// Checks the config (names the bad field) and builds the controller.
std::unique_ptr<KlController> make_kl_controller(const KlControlConfig& cfg);

}  // namespace mart::rlhf
