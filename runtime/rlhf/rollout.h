// Rollouts for RLHF: G sampled responses for each of P prompts, generated with the KV-cache
// Decoder (runtime/generate/decoder.h) in one batch of B = P * G sequences, recording for every
// response token its id, its log-probability under the sampling policy and a mask.
//
// Layout. Sequence b = p * G + g is sample g of prompt p (grouped contiguously per prompt, so
// GRPO's groups are rows [p*G, (p+1)*G)). Every per-token array is [B, T] row-major,
// T = max_new_tokens; response token t of sequence b sits at absolute position
// prompt_len(p) + t of that sequence (prompts may have different lengths).
//
// The log-prob (what PPO's ratio must recompute identically). For response token t of sequence b
// with id y, given logits z = the model's fp32 logits [V] at absolute position prompt_len + t - 1
// (the position whose next-token prediction produced y):
//     logprob = log_softmax(z / tau)[y] = (z[y] - m) / tau - log(sum_v exp((z[v] - m) / tau)),
//     m = max_v z[v], tau = logprob_temperature(sampling) (the sampling temperature; 1 when it
//     is 0, i.e. greedy),
// over the FULL vocabulary, computed in double and stored as float. top-k / top-p truncate the
// distribution the token is drawn from but NOT this log-prob (the convention of PPO stacks: the
// trainer's recomputation sees the full softmax; with top-k/top-p on, rollouts are slightly
// off-policy). entropy is the entropy of the same distribution, -sum_v p_v log p_v (nats).
//
// Ending. A sequence ends at its first EOS (when eos_id is set; the EOS token is kept in the
// response, with its log-prob, and its mask is 1) or after T tokens. Past the end: id pad_id,
// logprob 0, entropy 0, mask 0. Sequences end independently; generation stops when all have.
//
// Determinism. Sequence b draws from its own Sampler seeded with mix_seed(sampling.seed, b)
// (common/rng.h): the same seed, model, prompts and options give bit-identical rollouts; samples
// of one prompt use different streams, so they differ.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "runtime/generate/decoder.h"
#include "runtime/generate/sampler.h"

namespace mart {

struct RolloutOptions {
  int group_size = 1;             // G >= 1: samples per prompt
  int max_new_tokens = 32;        // T >= 1: response tokens at most (EOS included)
  SamplingParams sampling;        // temperature, top_k, top_p, seed (sampler.h)
  std::optional<int32_t> eos_id;  // unset: every response has T tokens
  int32_t pad_id = 0;             // the id stored past a response's end (mask 0)
};

struct Rollout {
  int P = 0, G = 0, B = 0, T = 0;  // prompts, samples per prompt, B = P * G, T = max_new_tokens
  std::vector<std::vector<int32_t>> prompts;  // [P][prompt_len(p)]: the prompts, as given
  std::vector<int32_t> response;              // [B, T] ids; pad_id past the end
  std::vector<float> logprob;                 // [B, T] log_softmax(z / tau)[id]; 0 past the end
  std::vector<float> entropy;                 // [B, T] entropy of softmax(z / tau); 0 past the end
  std::vector<float> mask;                    // [B, T] 1 through the end (EOS inclusive), then 0
  std::vector<int32_t> length;                // [B] response tokens with mask 1 (EOS included)
  std::vector<uint8_t> ended_by_eos;          // [B] 1: the last masked token is eos_id

  int prompt_index(int b) const { return b / G; }
  const std::vector<int32_t>& prompt_of(int b) const { return prompts[prompt_index(b)]; }
  // Sequence b's response tokens [length(b)] (EOS included when it ended by EOS).
  std::span<const int32_t> response_of(int b) const;
  // The same without a terminating EOS: what reward rules score.
  std::span<const int32_t> response_text_of(int b) const;
  // Prompt then response (EOS included): the sequence a trainer re-runs; its response token t
  // is predicted at position prompt_of(b).size() + t - 1.
  std::vector<int32_t> sequence_of(int b) const;
};

// The temperature of the recorded log-probs: sampling.temperature, or 1 when it is 0 (greedy).
float logprob_temperature(const SamplingParams& sampling);

// log_softmax(logits / tau)[id] over logits[V] (fp32), in double; entropy (non-null) gets the
// entropy of softmax(logits / tau). The one definition rollouts record and tests recompute.
double token_logprob(const float* logits, int V, int32_t id, double tau, double* entropy);

// The same log-probs recomputed from a full forward: `logits` [L, V] (fp32, row-major) of
// Rollout::sequence_of(b) run from position 0, L >= prompt length + length(b) - 1; out [T] gets
// token_logprob of each response token at its predicting row, 0 past length(b). What a trainer
// computes (with the policy being trained) for PPO's ratio exp(new - old) against Rollout::logprob.
void response_logprobs(const Rollout& r, int b, const float* logits, int V, double tau, float* out);

// Generates the rollout with `dec`, a Decoder over `session` (which gives the vocabulary size).
// The decoder must have batch() == prompts.size() * group_size and max_len() >= longest prompt +
// max_new_tokens - 1 (SessionOptions::generation); every prompt is non-empty; prompt, eos and pad
// ids lie in [0, vocab). mart::Error names the mismatch otherwise. The decoder's cache is
// overwritten from position 0. The returned Rollout owns copies of everything (no references).
Rollout generate_rollout(const Session& session, Decoder& dec,
                         const std::vector<std::vector<int32_t>>& prompts,
                         const RolloutOptions& opt);

}  // namespace mart
