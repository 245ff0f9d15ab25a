// Picking the next token from logits: temperature (0 = greedy argmax), then top-k, then top-p
// (nucleus), then a draw from the project's own RNG (common/rng.h), so one seed gives the same
// tokens on every machine and standard library.
#pragma once
#include <cstdint>
#include <vector>

#include "common/rng.h"

namespace mart {

struct SamplingParams {
  float temperature = 1.0f;  // 0: greedy (argmax; the first of equal maxima)
  int top_k = 0;             // 0: off; else keep the k most likely tokens
  float top_p = 1.0f;        // 1: off; else keep the smallest prefix of mass >= top_p
  uint64_t seed = 0;
};

// Throws mart::Error naming the parameter when one is out of range (temperature < 0 or not
// finite, top_k < 0, top_p outside (0, 1]).
void check_sampling(const SamplingParams& p);

class Sampler {
 public:
  explicit Sampler(const SamplingParams& p);
  // The next token from logits[V] (fp32). Throws on a NaN logit (a broken model).
  int32_t sample(const float* logits, int V);

 private:
  SamplingParams p_;
  Xoshiro256 rng_;
  std::vector<int32_t> order_;
  std::vector<double> prob_;
};

}  // namespace mart
