// Token log-probs and entropy from logits rows, and their backward, so a trainer can turn the
// policy losses' d loss / d logp (losses.h) into d loss / d logits for the model's classifier.
// Logits come in as float32 rows [N, V] (one row per response position, the model's output);
// all math is float64. With temperature tau, z = logits / tau, p = softmax(z):
//   logp[n]    = z[n, id[n]] - lse(z[n])
//   entropy[n] = lse(z[n]) - sum_v p[n,v] z[n,v]
// Backward, given g_logp [N] and (optionally) g_entropy [N]:
//   d loss / d logits[n,v] = (1/tau) * ( g_logp[n] * ([v == id[n]] - p[n,v])
//                                        - g_entropy[n] * p[n,v] * (z[n,v] - sum_u p[n,u] z[n,u]) )
// tau must equal the sampling temperature used by the rollout (so logp matches its old
// log-probs); tau = 1 is plain log_softmax.
#pragma once
#include <cstdint>
#include <span>

namespace mart::rlhf {

// logits: [N, V] float32 row-major; ids: [N] in [0, V) (checked); logp (out): [N];
// entropy (out): [N], or an empty span to skip it. temperature > 0.
void token_logprobs(std::span<const float> logits, std::span<const int32_t> ids, int64_t vocab,
                    double temperature, std::span<double> logp, std::span<double> entropy);

// The backward above. g_entropy may be empty (no entropy term). grad_logits (out): [N, V],
// overwritten; float (to feed the model's float32 backward) or double (for checks) instances.
template <class Out>
void token_logprobs_backward(std::span<const float> logits, std::span<const int32_t> ids,
                             int64_t vocab, double temperature, std::span<const double> g_logp,
                             std::span<const double> g_entropy, std::span<Out> grad_logits);

}  // namespace mart::rlhf
