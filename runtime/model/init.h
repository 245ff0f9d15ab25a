// Deterministic weight initialisation (GPT-2 style): weights ~ N(0, init_std), the two residual
// projections of each block scaled by 1/sqrt(2*n_layer), norm weights 1, biases 0. Every value
// is a pure function of (seed, tensor index, element index) -- a counter-based generator, see
// init.cpp -- so tensors are filled in parallel (OpenMP) and the values do not depend on the
// plan, the backend or the thread count.
#pragma once
#include <cstdint>
#include <vector>

#include "runtime/model/model_spec.h"

namespace mart {

// Host fp32 values of parameter `id`.
std::vector<float> init_param(const ModelSpec& spec, int id, uint64_t seed);

}  // namespace mart
