// Rollouts (runtime/rlhf/rollout.h) against the full training forward: every recorded log-prob
// and entropy equals log_softmax / entropy (same temperature) of the executor's logits over the
// whole sequence at the predicting position; the same seed gives the same rollout, another seed
// another; the G samples of a prompt differ; EOS ends a sequence and masks the rest.
#include "runtime/rlhf/rollout.h"

#include "tests/generate/generate_util.h"

namespace mart::gentest {
namespace {

constexpr int kContext = 32;

// A Session with both the executor (the reference forward) and a decoder of batch B.
std::unique_ptr<Session> rollout_session(ModelFamily f, int batch, int chunk = 4) {
  SessionOptions o;
  o.generation = GenerationShape{batch, 0, chunk};
  auto s = std::make_unique<Session>(tiny_gen_job(f, kContext), o);
  s->init_weights(7);
  return s;
}

// Logits [T, V] of every position of `seq` by the training forward (rest padded with 0).
std::vector<float> full_forward_all(Session& s, const std::vector<int32_t>& seq) {
  MicroBatch mb;
  mb.inputs.assign(kContext, 0);
  mb.targets.assign(kContext, -1);
  std::copy(seq.begin(), seq.end(), mb.inputs.begin());
  std::vector<float> all;
  s.executor().forward_logits(mb, &all);
  return all;
}

// Two prompts of different lengths (5 and 9: the shorter one samples while the longer one is
// still fed its prompt).
std::vector<std::vector<int32_t>> two_prompts() {
  return {lcg_prompt(5, 256, 3), lcg_prompt(9, 256, 4)};
}

struct Worst {
  double logprob = 0, entropy = 0;
};

// Largest |recorded - reference| over every masked token; `shift` moves the reference position
// (the negative control uses 1: the logits of the token's own position, not its predictor's).
Worst compare_with_full_forward(Session& s, const Rollout& r, double tau, int shift) {
  const int V = s.spec().cfg.vocab_size;
  Worst w;
  for (int b = 0; b < r.B; ++b) {
    const std::vector<int32_t> seq = r.sequence_of(b);
    const std::vector<float> all = full_forward_all(s, seq);
    const int lp = static_cast<int>(r.prompt_of(b).size());
    for (int t = 0; t < r.length[b]; ++t) {
      const size_t at = static_cast<size_t>(b) * r.T + t;
      EXPECT_EQ(r.mask[at], 1.0f);
      const int pos = lp + t - 1 + shift;
      double h = 0;
      const double ref =
          token_logprob(all.data() + static_cast<size_t>(pos) * V, V, r.response[at], tau, &h);
      w.logprob = std::max(w.logprob, std::abs(ref - r.logprob[at]));
      w.entropy = std::max(w.entropy, std::abs(h - r.entropy[at]));
    }
  }
  return w;
}

RolloutOptions opts(float temperature, int top_k, float top_p, uint64_t seed, int T = 12) {
  RolloutOptions o;
  o.group_size = 3;
  o.max_new_tokens = T;
  o.sampling = SamplingParams{temperature, top_k, top_p, seed};
  return o;
}

class RolloutFamilies : public ::testing::TestWithParam<ModelFamily> {};

TEST_P(RolloutFamilies, LogprobsEqualTheFullForwardAtTheSameTemperature) {
  auto s = rollout_session(GetParam(), 6);
  Decoder dec(*s);
  // Plain sampling at 0.8, and top-k/top-p (which truncate the draw but not the log-prob).
  for (const RolloutOptions& o : {opts(0.8f, 0, 1.0f, 1), opts(1.3f, 20, 0.9f, 2)}) {
    const Rollout r = generate_rollout(*s, dec, two_prompts(), o);
    ASSERT_EQ(r.B, 6);
    for (int b = 0; b < r.B; ++b) ASSERT_EQ(r.length[b], o.max_new_tokens);
    const double tau = o.sampling.temperature;
    const Worst w = compare_with_full_forward(*s, r, tau, 0);
    EXPECT_LT(w.logprob, 1e-5) << "temperature " << tau;
    EXPECT_LT(w.entropy, 1e-5) << "temperature " << tau;
    // Negative controls: the wrong position, and the wrong temperature.
    EXPECT_GT(compare_with_full_forward(*s, r, tau, 1).logprob, 1e-3)
        << "a log-prob taken one position late must fail the comparison";
    EXPECT_GT(compare_with_full_forward(*s, r, 1.0 + tau, 0).logprob, 1e-3)
        << "a log-prob at another temperature must fail the comparison";
  }
}

TEST_P(RolloutFamilies, SameSeedSameRolloutOtherSeedOtherSamplesOfAPromptDiffer) {
  auto s = rollout_session(GetParam(), 6);
  Decoder dec(*s);
  const Rollout a = generate_rollout(*s, dec, two_prompts(), opts(1.0f, 0, 1.0f, 5));
  const Rollout b = generate_rollout(*s, dec, two_prompts(), opts(1.0f, 0, 1.0f, 5));
  const Rollout c = generate_rollout(*s, dec, two_prompts(), opts(1.0f, 0, 1.0f, 6));
  EXPECT_EQ(a.response, b.response);
  EXPECT_EQ(a.logprob, b.logprob);
  EXPECT_EQ(a.entropy, b.entropy);
  EXPECT_NE(a.response, c.response) << "another seed must give other samples";
  for (int p = 0; p < a.P; ++p)
    for (int g = 0; g < a.G; ++g)
      for (int h = g + 1; h < a.G; ++h) {
        const auto x = a.response_of(p * a.G + g), y = a.response_of(p * a.G + h);
        EXPECT_FALSE(std::equal(x.begin(), x.end(), y.begin(), y.end()))
            << "prompt " << p << ": samples " << g << " and " << h << " are identical";
      }
  // Groups are contiguous per prompt.
  EXPECT_EQ(a.prompt_of(2), two_prompts()[0]);
  EXPECT_EQ(a.prompt_of(3), two_prompts()[1]);
}

INSTANTIATE_TEST_SUITE_P(Families, RolloutFamilies,
                         ::testing::Values(ModelFamily::GPT2, ModelFamily::Llama),
                         [](const auto& i) { return std::string(family_tag(i.param)); });

// EOS: the id sequence 1 samples at step 3 (chosen so it does not occur before) becomes the EOS.
// With the same seed each sequence equals the EOS-free rollout up to its first EOS (kept, mask 1)
// and is padded after it (pad id, log-prob 0, mask 0); sequences without it are unchanged.
TEST(Rollout, EosEndsASequenceAndMasksTheRest) {
  auto s = rollout_session(ModelFamily::Llama, 6);
  Decoder dec(*s);
  RolloutOptions o = opts(1.0f, 0, 1.0f, 9, 16);
  const Rollout free = generate_rollout(*s, dec, two_prompts(), o);
  auto r1 = free.response_of(1);
  int step = 3;
  while (std::find(r1.begin(), r1.begin() + step, r1[step]) != r1.begin() + step) ++step;
  ASSERT_LT(step, 16);
  o.eos_id = r1[step];
  o.pad_id = 255;
  const Rollout r = generate_rollout(*s, dec, two_prompts(), o);
  EXPECT_EQ(r.length[1], step + 1);
  EXPECT_TRUE(r.ended_by_eos[1]);
  EXPECT_EQ(r.response_text_of(1).size(), static_cast<size_t>(step));
  int ended = 0;
  for (int b = 0; b < r.B; ++b) {
    auto f = free.response_of(b);
    const int first = static_cast<int>(std::find(f.begin(), f.end(), *o.eos_id) - f.begin());
    const int len = first < 16 ? first + 1 : 16;
    ended += first < 16;
    ASSERT_EQ(r.length[b], len) << "sequence " << b;
    EXPECT_EQ(r.ended_by_eos[b] != 0, first < 16);
    for (int t = 0; t < 16; ++t) {
      const size_t at = static_cast<size_t>(b) * 16 + t;
      if (t < len) {
        EXPECT_EQ(r.response[at], free.response[at]);
        EXPECT_EQ(r.logprob[at], free.logprob[at]);
        EXPECT_EQ(r.mask[at], 1.0f);
      } else {
        EXPECT_EQ(r.response[at], 255);
        EXPECT_EQ(r.logprob[at], 0.0f);
        EXPECT_EQ(r.entropy[at], 0.0f);
        EXPECT_EQ(r.mask[at], 0.0f) << "sequence " << b << " token " << t << " after EOS";
      }
    }
  }
  EXPECT_GE(ended, 1);
  // The free rollout had no EOS: every mask is 1 (the control for the zeros above).
  EXPECT_EQ(std::count(free.mask.begin(), free.mask.end(), 1.0f), 6 * 16);
  // The masked rollout's log-probs still match the full forward, and response_logprobs (the
  // trainer's recomputation) gives them [T] with zeros past the end.
  EXPECT_LT(compare_with_full_forward(*s, r, 1.0, 0).logprob, 1e-5);
  std::vector<float> re(16);
  const auto all = full_forward_all(*s, r.sequence_of(1));
  response_logprobs(r, 1, all.data(), s->spec().cfg.vocab_size, 1.0, re.data());
  for (int t = 0; t < 16; ++t) {
    EXPECT_NEAR(re[t], r.logprob[16 + t], 1e-5) << "token " << t;
    if (t > step) {
      EXPECT_EQ(re[t], 0.0f);
    }
  }
  // The control: at another temperature the recomputation differs.
  response_logprobs(r, 1, all.data(), s->spec().cfg.vocab_size, 2.0, re.data());
  EXPECT_GT(std::abs(re[0] - r.logprob[16]), 1e-3);
}

TEST(Rollout, GreedyRecordsLogprobsAtTemperatureOne) {
  auto s = rollout_session(ModelFamily::GPT2, 2);
  Decoder dec(*s);
  RolloutOptions o = opts(0.0f, 0, 1.0f, 0, 6);
  o.group_size = 1;
  const Rollout r = generate_rollout(*s, dec, two_prompts(), o);
  EXPECT_EQ(logprob_temperature(o.sampling), 1.0f);
  EXPECT_LT(compare_with_full_forward(*s, r, 1.0, 0).logprob, 1e-5);
  // Greedy picks the argmax of the full forward.
  const int V = s->spec().cfg.vocab_size;
  for (int b = 0; b < r.B; ++b) {
    const auto all = full_forward_all(*s, r.sequence_of(b));
    const int lp = static_cast<int>(r.prompt_of(b).size());
    for (int t = 0; t < r.T; ++t) {
      const float* z = all.data() + static_cast<size_t>(lp + t - 1) * V;
      EXPECT_EQ(r.response[b * r.T + t], std::max_element(z, z + V) - z);
    }
  }
}

TEST(Rollout, RefusesMismatchedShapesWithClearErrors) {
  auto s = rollout_session(ModelFamily::GPT2, 6);
  Decoder dec(*s);
  RolloutOptions o = opts(1.0f, 0, 1.0f, 0);
  o.group_size = 2;  // 2 x 2 = 4, not 6
  EXPECT_TRUE(has(error_of([&] { generate_rollout(*s, dec, two_prompts(), o); }),
                  "needs a decoder of batch 4"));
  o.group_size = 3;
  o.max_new_tokens = 30;  // 9 + 30 - 1 > 32
  EXPECT_TRUE(
      has(error_of([&] { generate_rollout(*s, dec, two_prompts(), o); }), "needs 38 positions"));
  o.max_new_tokens = 4;
  EXPECT_TRUE(has(error_of([&] {
                    generate_rollout(*s, dec, {{1, 2}, {}}, o);
                  }),
                  "prompt 1 is empty"));
  EXPECT_TRUE(has(error_of([&] {
                    generate_rollout(*s, dec, {{1, 2}, {3, 256}}, o);
                  }),
                  "token id 256 outside"));
  o.eos_id = 300;
  EXPECT_TRUE(
      has(error_of([&] { generate_rollout(*s, dec, two_prompts(), o); }), "pad/eos id 300"));
}

// A rollout over chunked model states (every chunk offloaded, uploaded on demand: how a frozen or
// streamed actor generates) equals the resident rollout bit for bit.
TEST(Rollout, ChunkedWeightsGiveTheResidentRolloutBitForBit) {
  auto chunked =
      offloaded_gen_session(tiny_gen_job(ModelFamily::Llama, kContext), GenerationShape{6, 0, 4});
  ASSERT_TRUE(chunked->chunked());
  auto resident = rollout_session(ModelFamily::Llama, 6);
  Decoder dc(*chunked), dr(*resident);
  const RolloutOptions o = opts(1.0f, 0, 1.0f, 4);
  const Rollout a = generate_rollout(*chunked, dc, two_prompts(), o);
  const Rollout b = generate_rollout(*resident, dr, two_prompts(), o);
  EXPECT_EQ(a.response, b.response);
  EXPECT_EQ(a.logprob, b.logprob);
  // The control: other weights give another rollout.
  chunked->init_weights(8);
  EXPECT_NE(generate_rollout(*chunked, dc, two_prompts(), o).logprob, b.logprob);
}

}  // namespace
}  // namespace mart::gentest
