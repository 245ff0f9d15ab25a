#include "runtime/rlhf/rollout.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/rng.h"

namespace mart {

std::span<const int32_t> Rollout::response_of(int b) const {
  return std::span<const int32_t>(response).subspan(static_cast<size_t>(b) * T, length[b]);
}

std::span<const int32_t> Rollout::response_text_of(int b) const {
  auto r = response_of(b);
  return ended_by_eos[b] ? r.first(r.size() - 1) : r;
}

std::vector<int32_t> Rollout::sequence_of(int b) const {
  std::vector<int32_t> s = prompt_of(b);
  auto r = response_of(b);
  s.insert(s.end(), r.begin(), r.end());
  return s;
}

float logprob_temperature(const SamplingParams& sampling) {
  return sampling.temperature > 0 ? sampling.temperature : 1.0f;
}

double token_logprob(const float* logits, int V, int32_t id, double tau, double* entropy) {
  const double m = *std::max_element(logits, logits + V);
  double sum = 0, weighted = 0;  // sum e^s, sum e^s * s with s = (z - m) / tau
  for (int v = 0; v < V; ++v) {
    const double s = (logits[v] - m) / tau, e = std::exp(s);
    sum += e;
    weighted += e * s;
  }
  const double log_sum = std::log(sum);
  // H = -sum p (s - log_sum) = log_sum - sum p s
  if (entropy) *entropy = log_sum - weighted / sum;
  return (logits[id] - m) / tau - log_sum;
}

void response_logprobs(const Rollout& r, int b, const float* logits, int V, double tau,
                       float* out) {
  const size_t lp = r.prompt_of(b).size();
  const auto resp = r.response_of(b);
  std::fill(out, out + r.T, 0.0f);
  for (size_t t = 0; t < resp.size(); ++t)
    out[t] = static_cast<float>(
        token_logprob(logits + (lp + t - 1) * static_cast<size_t>(V), V, resp[t], tau, nullptr));
}

namespace {

void check_rollout_args(const Decoder& dec, const std::vector<std::vector<int32_t>>& prompts,
                        const RolloutOptions& opt, int V) {
  MART_CHECK(!prompts.empty(), "the rollout has no prompts: give at least one");
  MART_CHECK(opt.group_size >= 1, "rollout group_size ", opt.group_size, " must be >= 1");
  MART_CHECK(opt.max_new_tokens >= 1, "rollout max_new_tokens ", opt.max_new_tokens,
             " must be >= 1");
  check_sampling(opt.sampling);
  const size_t B = prompts.size() * static_cast<size_t>(opt.group_size);
  MART_CHECK(static_cast<size_t>(dec.batch()) == B, "the rollout needs a decoder of batch ", B,
             " (", prompts.size(), " prompts x ", opt.group_size, " samples) but it has batch ",
             dec.batch(), "; build the Session with SessionOptions::generation batch ", B);
  size_t longest = 0;
  for (size_t p = 0; p < prompts.size(); ++p) {
    MART_CHECK(!prompts[p].empty(), "rollout prompt ", p, " is empty: give at least one token");
    longest = std::max(longest, prompts[p].size());
    for (int32_t id : prompts[p])
      MART_CHECK(id >= 0 && id < V, "rollout prompt ", p, " has token id ", id,
                 " outside the model's vocabulary [0, ", V, ")");
  }
  const size_t need = longest + opt.max_new_tokens - 1;
  MART_CHECK(need <= static_cast<size_t>(dec.max_len()), "the rollout needs ", need,
             " positions (longest prompt ", longest, " + max_new_tokens ", opt.max_new_tokens,
             " - 1) but the decoder holds ", dec.max_len(),
             "; shorten the prompts or max_new_tokens, or raise the generation max_len");
  for (int32_t id : {opt.pad_id, opt.eos_id.value_or(0)})
    MART_CHECK(id >= 0 && id < V, "rollout pad/eos id ", id, " is outside the vocabulary [0, ", V,
               ")");
}

// Per-sequence state of one rollout being generated.
struct Gen {
  Rollout& r;
  const RolloutOptions& opt;
  double tau;
  int V;
  std::vector<Sampler> samplers;
  std::vector<uint8_t> done;

  Gen(Rollout& rr, const RolloutOptions& o, int vocab) : r(rr), opt(o), V(vocab) {
    tau = logprob_temperature(o.sampling);
    samplers.reserve(r.B);
    for (int b = 0; b < r.B; ++b) {
      SamplingParams sp = o.sampling;
      sp.seed = mix_seed(o.sampling.seed, static_cast<uint64_t>(b));
      samplers.emplace_back(sp);
    }
    done.assign(r.B, 0);
  }

  // Sequence b's token at position pos, given its logits z [V] of position pos - 1.
  int32_t next(int b, int pos, const float* z) {
    const auto& prompt = r.prompt_of(b);
    if (pos < static_cast<int>(prompt.size())) return prompt[pos];
    if (done[b]) return opt.pad_id;
    const int t = pos - static_cast<int>(prompt.size());
    const size_t at = static_cast<size_t>(b) * r.T + t;
    const int32_t id = samplers[b].sample(z, V);
    double h = 0;
    r.response[at] = id;
    r.logprob[at] = static_cast<float>(token_logprob(z, V, id, tau, &h));
    r.entropy[at] = static_cast<float>(h);
    r.mask[at] = 1.0f;
    r.length[b] = t + 1;
    const bool eos = opt.eos_id && id == *opt.eos_id;
    r.ended_by_eos[b] = eos;
    done[b] = eos || t + 1 == r.T;
    return id;
  }
};

}  // namespace

// All B sequences advance in lockstep, one position per decoder call after the shortest prompt:
// at position pos a sequence still inside its prompt is fed its prompt token (its logits are not
// used), one past its prompt is fed the token sampled from its logits of position pos - 1.
Rollout generate_rollout(const Session& session, Decoder& dec,
                         const std::vector<std::vector<int32_t>>& prompts,
                         const RolloutOptions& opt) {
  const int V = session.spec().cfg.vocab_size;
  check_rollout_args(dec, prompts, opt, V);
  Rollout r;
  r.P = static_cast<int>(prompts.size());
  r.G = opt.group_size;
  r.B = r.P * r.G;
  r.T = opt.max_new_tokens;
  r.prompts = prompts;
  const size_t BT = static_cast<size_t>(r.B) * r.T;
  r.response.assign(BT, opt.pad_id);
  r.logprob.assign(BT, 0.0f);
  r.entropy.assign(BT, 0.0f);
  r.mask.assign(BT, 0.0f);
  r.length.assign(r.B, 0);
  r.ended_by_eos.assign(r.B, 0);
  size_t shortest = SIZE_MAX;
  for (const auto& p : prompts) shortest = std::min(shortest, p.size());
  int pos = static_cast<int>(shortest);  // the first call runs every prompt's first n0 tokens
  std::vector<int32_t> feed(static_cast<size_t>(r.B) * pos);
  for (int b = 0; b < r.B; ++b)
    std::copy_n(r.prompt_of(b).begin(), pos, feed.begin() + static_cast<size_t>(b) * pos);
  std::vector<float> logits;
  dec.forward(feed, pos, 0, &logits);
  MART_CHECK(logits.size() == static_cast<size_t>(r.B) * V, "the decoder returned ", logits.size(),
             " logits for batch ", r.B, " x vocabulary ", V, ": is it built over this Session?");
  Gen g(r, opt, V);
  feed.resize(r.B);
  while (true) {
    for (int b = 0; b < r.B; ++b)
      feed[b] = g.next(b, pos, logits.data() + static_cast<size_t>(b) * V);
    if (std::all_of(g.done.begin(), g.done.end(), [](uint8_t d) { return d != 0; })) break;
    dec.forward(feed, 1, pos, &logits);
    ++pos;
  }
  return r;
}

}  // namespace mart
