#include "runtime/generate/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/error.h"

namespace mart {

void check_sampling(const SamplingParams& p) {
  MART_CHECK(std::isfinite(p.temperature) && p.temperature >= 0, "--temperature ", p.temperature,
             " must be >= 0 (0 = greedy)");
  MART_CHECK(p.top_k >= 0, "--top-k ", p.top_k, " must be >= 0 (0 = off)");
  MART_CHECK(p.top_p > 0 && p.top_p <= 1, "--top-p ", p.top_p, " must be in (0, 1] (1 = off)");
}

Sampler::Sampler(const SamplingParams& p) : p_(p), rng_(p.seed) {
  check_sampling(p);
}

int32_t Sampler::sample(const float* logits, int V) {
  for (int i = 0; i < V; ++i)
    MART_CHECK(!std::isnan(logits[i]), "the model produced a NaN logit (token ", i,
               "): its weights are broken");
  if (p_.temperature == 0)
    return static_cast<int32_t>(std::max_element(logits, logits + V) - logits);
  // Candidates by descending logit (ties: lower id first, so the order is fully determined).
  order_.resize(V);
  std::iota(order_.begin(), order_.end(), 0);
  const int k = p_.top_k > 0 ? std::min(p_.top_k, V) : V;
  auto desc = [&](int32_t a, int32_t b) {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  };
  std::partial_sort(order_.begin(), order_.begin() + k, order_.end(), desc);
  // Softmax at the temperature over the top k, in double.
  prob_.resize(k);
  const double mx = logits[order_[0]], t = p_.temperature;
  double sum = 0;
  for (int i = 0; i < k; ++i) sum += prob_[i] = std::exp((logits[order_[i]] - mx) / t);
  // Nucleus: the smallest prefix whose mass reaches top_p (at least one token).
  int keep = k;
  if (p_.top_p < 1) {
    double acc = 0;
    for (int i = 0; i < k; ++i) {
      acc += prob_[i] / sum;
      if (acc >= p_.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  double mass = 0;
  for (int i = 0; i < keep; ++i) mass += prob_[i];
  const double u = rng_.uniform() * mass;
  double acc = 0;
  for (int i = 0; i < keep; ++i) {
    acc += prob_[i];
    if (u < acc) return order_[i];
  }
  return order_[keep - 1];  // u rounded to the very top of the mass
}

}  // namespace mart
