// Learning rate: linear warmup over warmup_steps, then cosine decay to lr * min_lr_ratio at the
// last step. `step` is 0-based (the step about to run). A warmup longer than the run is clamped to
// it (the trainer says so), so the run still reaches the peak lr at its last step.
#pragma once
#include <cmath>

#include "config/job_config.h"

namespace mart {

inline float lr_at(const TrainConfig& t, int step) {
  const int warmup = t.warmup_steps < t.steps ? t.warmup_steps : t.steps;
  if (step < warmup) return t.lr * static_cast<float>(step + 1) / warmup;
  const int decay_steps = t.steps - warmup;
  if (decay_steps <= 1) return t.lr;
  const double progress = static_cast<double>(step - warmup) / (decay_steps - 1);
  const double min_lr = t.lr * t.min_lr_ratio;
  return static_cast<float>(min_lr + 0.5 * (t.lr - min_lr) * (1.0 + std::cos(M_PI * progress)));
}

}  // namespace mart
