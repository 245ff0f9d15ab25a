// Value checks on tensors read from files, before any of them reaches the model: a NaN weight would
// otherwise surface steps later as "training diverged", and an absurd finite one trains silently.
#pragma once
#include <string>

#include "io/safetensors.h"

namespace mart {

// The largest |w| accepted in loaded model weights. Trained transformer weights are O(1)
// (initialised with std 0.02, norm gains near 1; the largest outliers reported in released LLMs
// are in the tens to low hundreds), and AdamW moves a weight by about lr per step, so a value
// past 1e4 means a corrupt or mis-scaled file, not a model.
inline constexpr double kMaxAbsWeight = 1e4;

// Element i of an F32, BF16 or F16 tensor as a float (IEEE half and bfloat16 converted exactly);
// throws naming the tensor for any other dtype.
float element_as_f32(const TensorView& t, size_t i);

// Throws mart::Error naming PATH and the tensor when it holds NaN, Inf, or |w| > kMaxAbsWeight
// ("PATH: tensor T has 3 NaN values"). F32, BF16 and F16 tensors.
void check_weight_values(const TensorView& t, const std::string& path);

// AdamW state: the first moment (exp_avg) must be finite; the second (exp_avg_sq, a running mean
// of squared gradients) finite and >= 0. F32 tensors.
void check_adam_values(const TensorView& t, const std::string& path, bool second_moment);

}  // namespace mart
