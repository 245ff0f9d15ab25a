// Learning rate: linear warmup over warmup_steps, then cosine decay to lr * min_lr_ratio at the
// last step. `step` is 0-based (the step about to run).
#pragma once
#include <cmath>

#include "config/job_config.h"

namespace mart {

inline float lr_at(const TrainConfig& t, int step) {
  if (step < t.warmup_steps) return t.lr * static_cast<float>(step + 1) / t.warmup_steps;
  const int decay_steps = t.steps - t.warmup_steps;
  if (decay_steps <= 1) return t.lr;
  const double progress = static_cast<double>(step - t.warmup_steps) / (decay_steps - 1);
  const double min_lr = t.lr * t.min_lr_ratio;
  return static_cast<float>(min_lr + 0.5 * (t.lr - min_lr) * (1.0 + std::cos(M_PI * progress)));
}

}  // namespace mart
