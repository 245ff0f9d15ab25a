// Decoding with the KV cache against the full forward: the logits of every step agree within fp32
// rounding, and the chosen tokens are the same, for both families and prompts of 1 and several
// tokens (several: longer than the decoder's chunk, so the prompt runs in pieces). A wrong cache
// offset must break the agreement (negative control).
#include "tests/generate/generate_util.h"

namespace mart::gentest {
namespace {

struct Case {
  ModelFamily family;
  int prompt_len;
};

class DecodeParity : public ::testing::TestWithParam<Case> {};

// Greedy decoding through Decoder::forward, comparing each step's logits with the full forward.
// offset_error shifts the position given to the cache for steps after the first (test-only: the
// production loops pass the cached length). Returns the largest logit difference seen.
float decode_and_compare(Session& s, const std::vector<int32_t>& prompt, int steps,
                         int offset_error, std::vector<int32_t>* out_tokens) {
  Decoder dec(s);
  std::vector<int32_t> seq = prompt;
  std::vector<float> logits;
  dec.forward(seq, static_cast<int>(seq.size()), 0, &logits);
  float worst = 0;
  for (int step = 0; step < steps; ++step) {
    worst = std::max(worst, max_abs_diff(logits, full_forward_last(s, seq)));
    Sampler greedy(SamplingParams{0.0f, 0, 1.0f, 0});
    const int32_t next = greedy.sample(logits.data(), static_cast<int>(logits.size()));
    seq.push_back(next);
    out_tokens->push_back(next);
    const int pos = static_cast<int>(seq.size()) - 1 + offset_error;
    dec.forward(std::vector<int32_t>{next}, 1, pos, &logits);
  }
  return worst;
}

TEST_P(DecodeParity, CachedLogitsMatchTheFullForwardEachStep) {
  const Case c = GetParam();
  auto s = gen_session(c.family);
  const auto prompt = lcg_prompt(c.prompt_len, 256, 11 + c.prompt_len);
  std::vector<int32_t> toks;
  const float worst = decode_and_compare(*s, prompt, 12, 0, &toks);
  EXPECT_LT(worst, 2e-5f) << "cached logits drift from the full forward";
  // The generated tokens are those the full forward chooses step by step.
  std::vector<int32_t> seq = prompt;
  for (int32_t t : toks) {
    auto ref = full_forward_last(*s, seq);
    EXPECT_EQ(t, std::max_element(ref.begin(), ref.end()) - ref.begin());
    seq.push_back(t);
  }
}

TEST_P(DecodeParity, AWrongCacheOffsetBreaksTheComparison) {
  const Case c = GetParam();
  auto s = gen_session(c.family);
  const auto prompt = lcg_prompt(c.prompt_len, 256, 11 + c.prompt_len);
  std::vector<int32_t> toks;
  // Each new token overwrites the previous position: the cache loses one token per step.
  const float worst = decode_and_compare(*s, prompt, 6, -1, &toks);
  EXPECT_GT(worst, 1e-3f) << "the comparison does not notice a cache written one position early";
}

// generate_tokens with the cache, without it (the whole sequence each step), and the full-forward
// loop choose the same tokens: greedy and seeded sampling.
TEST_P(DecodeParity, TokensWithAndWithoutTheCacheAreTheSame) {
  const Case c = GetParam();
  auto s = gen_session(c.family);
  const auto prompt = lcg_prompt(c.prompt_len, 256, 5 + c.prompt_len);
  for (SamplingParams sp : {SamplingParams{0.0f, 0, 1.0f, 0}, SamplingParams{1.0f, 40, 0.95f, 3}}) {
    TokenLoopOptions o;
    o.max_new_tokens = 16;
    o.sampling = sp;
    Decoder dec(*s);
    const TokenResult cached = generate_tokens(dec, prompt, o);
    o.use_cache = false;
    const TokenResult uncached = generate_tokens(dec, prompt, o);
    EXPECT_EQ(cached.tokens, uncached.tokens) << "temperature " << sp.temperature;
    ASSERT_EQ(cached.tokens.size(), 16u);
    // The reference: the training forward over the whole sequence, the same sampler.
    Sampler ref(sp);
    std::vector<int32_t> seq = prompt, ref_tokens;
    for (int i = 0; i < 16; ++i) {
      auto l = full_forward_last(*s, seq);
      ref_tokens.push_back(ref.sample(l.data(), static_cast<int>(l.size())));
      seq.push_back(ref_tokens.back());
    }
    EXPECT_EQ(cached.tokens, ref_tokens) << "temperature " << sp.temperature;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, DecodeParity,
                         ::testing::Values(Case{ModelFamily::GPT2, 1}, Case{ModelFamily::GPT2, 13},
                                           Case{ModelFamily::Llama, 1},
                                           Case{ModelFamily::Llama, 13}),
                         [](const auto& i) {
                           return std::string(family_tag(i.param.family)) + "_prompt" +
                                  std::to_string(i.param.prompt_len);
                         });

}  // namespace
}  // namespace mart::gentest

namespace mart::gentest {
namespace {

// A batch of two sequences decodes each as if alone (RLHF rollouts run batches): the prompts in
// one call (two chunks of 4 and one of 1), then three single positions, against batch-1 decoders.
TEST(DecodeBatch, EachSequenceOfABatchDecodesAsIfAlone) {
  for (ModelFamily f : {ModelFamily::GPT2, ModelFamily::Llama}) {
    SessionOptions o2;
    o2.executor = false;
    o2.generation = GenerationShape{2, 0, 4};
    Session s2(tiny_gen_job(f), o2);
    s2.init_weights(7);
    auto sa = gen_session(f, 4), sb = gen_session(f, 4);
    Decoder d2(s2), da(*sa), db(*sb);
    const int V = sa->spec().cfg.vocab_size;
    std::vector<int32_t> ta = lcg_prompt(9, 256, 1), tb = lcg_prompt(9, 256, 2);
    int pos = 0;
    for (int step = 0; step < 4; ++step) {
      std::vector<int32_t> tab(ta);
      tab.insert(tab.end(), tb.begin(), tb.end());
      const int n = static_cast<int>(ta.size());
      std::vector<float> l2, la, lb;
      d2.forward(tab, n, pos, &l2);
      da.forward(ta, n, pos, &la);
      db.forward(tb, n, pos, &lb);
      EXPECT_LT(max_abs_diff(std::vector<float>(l2.begin(), l2.begin() + V), la), 1e-5f)
          << family_tag(f) << " step " << step;
      EXPECT_LT(max_abs_diff(std::vector<float>(l2.begin() + V, l2.end()), lb), 1e-5f)
          << family_tag(f) << " step " << step;
      EXPECT_GT(max_abs_diff(la, lb), 1e-4f) << "the two sequences must differ";
      pos += n;
      ta = {static_cast<int32_t>(10 + step)};
      tb = {static_cast<int32_t>(200 + step)};
    }
  }
}

}  // namespace
}  // namespace mart::gentest

namespace mart::gentest {
namespace {

// Chunked model states (every chunk offloaded, uploaded into 8 device buffers on demand) give the
// same logits as resident states, bit for bit: the same kernels read the same weights.
TEST(DecodeChunked, OffloadedWeightsDecodeLikeResidentOnes) {
  for (ModelFamily f : {ModelFamily::GPT2, ModelFamily::Llama}) {
    auto chunked = offloaded_gen_session(tiny_gen_job(f), GenerationShape{1, 0, 8});
    ASSERT_TRUE(chunked->chunked());
    auto resident = gen_session(f, 8);
    Decoder dc(*chunked), dr(*resident);
    std::vector<int32_t> seq = lcg_prompt(13, 256, 4);
    std::vector<float> lc, lr;
    int pos = 0;
    for (int step = 0; step < 5; ++step) {
      const int n = static_cast<int>(seq.size()) - pos;
      std::vector<int32_t> part(seq.begin() + pos, seq.end());
      dc.forward(part, n, pos, &lc);
      dr.forward(part, n, pos, &lr);
      EXPECT_EQ(lc, lr) << family_tag(f) << " step " << step;
      pos = static_cast<int>(seq.size());
      seq.push_back(static_cast<int32_t>(std::max_element(lr.begin(), lr.end()) - lr.begin()));
    }
  }
}

}  // namespace
}  // namespace mart::gentest
