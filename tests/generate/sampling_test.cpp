// The sampler (temperature, top-k, top-p, seed), the text loop (stop strings, streaming, UTF-8
// holding back), the KV cache's planned bytes, and the errors a user can meet.
#include "memory/device_arena.h"
#include "runtime/memory_budget.h"
#include "tests/generate/generate_util.h"

namespace mart::gentest {
namespace {

TEST(Sampler, TemperatureZeroIsArgmaxAndTopK1IsArgmaxForAnySeed) {
  const std::vector<float> l = {0.1f, 2.0f, -1.0f, 1.9f};
  EXPECT_EQ(Sampler({0.0f, 0, 1.0f, 9}).sample(l.data(), 4), 1);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    EXPECT_EQ(Sampler({1.0f, 1, 1.0f, seed}).sample(l.data(), 4), 1);
    EXPECT_EQ(Sampler({1.0f, 0, 0.01f, seed}).sample(l.data(), 4), 1);  // nucleus of one
  }
}

TEST(Sampler, TopKAndTopPKeepOnlyTheirCandidates) {
  const std::vector<float> l = {3.0f, 2.9f, 0.0f, -5.0f, 2.8f};
  std::vector<int> seen(5, 0);
  Sampler k2({1.0f, 2, 1.0f, 1});
  for (int i = 0; i < 400; ++i) seen[k2.sample(l.data(), 5)]++;
  EXPECT_GT(seen[0], 0);
  EXPECT_GT(seen[1], 0);
  EXPECT_EQ(seen[2] + seen[3] + seen[4], 0) << "top-k 2 drew outside the two best";
  // Negative control: without top-k the third-best token is drawn too.
  std::fill(seen.begin(), seen.end(), 0);
  Sampler all({1.0f, 0, 1.0f, 1});
  for (int i = 0; i < 400; ++i) seen[all.sample(l.data(), 5)]++;
  EXPECT_GT(seen[4], 0);
  // top-p 0.5: the best two hold ~0.36 + 0.33 of the mass, so the nucleus is the two of them.
  std::fill(seen.begin(), seen.end(), 0);
  Sampler p({1.0f, 0, 0.5f, 1});
  for (int i = 0; i < 400; ++i) seen[p.sample(l.data(), 5)]++;
  EXPECT_EQ(seen[2] + seen[3] + seen[4], 0);
  EXPECT_GT(seen[1], 0);
}

TEST(Sampler, SameSeedSameDrawsOtherSeedOtherDraws) {
  std::vector<float> l(50);
  for (int i = 0; i < 50; ++i) l[i] = 0.05f * i;
  auto draws = [&](uint64_t seed) {
    Sampler s({1.0f, 0, 1.0f, seed});
    std::vector<int32_t> d;
    for (int i = 0; i < 32; ++i) d.push_back(s.sample(l.data(), 50));
    return d;
  };
  EXPECT_EQ(draws(5), draws(5));
  EXPECT_NE(draws(5), draws(6));
}

TEST(Sampler, BadParametersAreNamed) {
  EXPECT_TRUE(has(error_of([] { Sampler({-1.0f, 0, 1.0f, 0}); }), "--temperature"));
  EXPECT_TRUE(has(error_of([] { Sampler({1.0f, -2, 1.0f, 0}); }), "--top-k"));
  EXPECT_TRUE(has(error_of([] { Sampler({1.0f, 0, 1.5f, 0}); }), "--top-p"));
}

TEST(Utf8, AnIncompleteTrailingCharacterIsHeldBack) {
  const std::string e_acute = "\xC3\xA9", euro = "\xE2\x82\xAC";
  EXPECT_EQ(utf8_complete_end("ab", 0), 2u);
  EXPECT_EQ(utf8_complete_end("ab\xC3", 0), 2u);
  EXPECT_EQ(utf8_complete_end("ab" + e_acute, 0), 4u);
  EXPECT_EQ(utf8_complete_end("a\xE2\x82", 0), 1u);
  EXPECT_EQ(utf8_complete_end("a" + euro, 0), 4u);
}

// Text generation with the byte tokenizer on the random-weight model: a stop string taken from the
// unstopped output ends the text just before it, and the streamed pieces add up to the text.
TEST(GenerateText, StopStringCutsAndStreamingAddsUp) {
  auto s = gen_session(ModelFamily::Llama);
  auto tok = make_byte_tokenizer();
  TextOptions o;
  o.tokens.max_new_tokens = 20;
  o.tokens.sampling = {0.0f, 0, 1.0f, 0};
  Decoder dec(*s);
  const TextResult full = generate_text(dec, *tok, "hi", o);
  ASSERT_EQ(full.text.size(), 20u);
  EXPECT_EQ(full.reason, StopReason::MaxTokens);
  const std::string stop = full.text.substr(6, 2);
  const size_t at = full.text.find(stop);
  o.stop = {stop};
  std::string streamed;
  o.on_text = [&](std::string_view p) { streamed += p; };
  const TextResult cut = generate_text(dec, *tok, "hi", o);
  EXPECT_EQ(cut.text, full.text.substr(0, at));
  EXPECT_EQ(cut.reason, StopReason::StopString);
  EXPECT_EQ(streamed, cut.text) << "the stream printed part of the stop string";
}

TEST(GenerateText, ContextFullStopsAndALongPromptIsRefused) {
  auto s = gen_session(ModelFamily::GPT2);  // context 32
  Decoder dec(*s);
  TokenLoopOptions o;
  o.max_new_tokens = 100;
  const TokenResult r = generate_tokens(dec, lcg_prompt(30, 256, 1), o);
  EXPECT_EQ(r.reason, StopReason::ContextFull);
  EXPECT_EQ(r.tokens.size(), 3u) << "positions 30, 31 and the token after the last position";
  const std::string e = error_of([&] { generate_tokens(dec, lcg_prompt(33, 256, 1), o); });
  EXPECT_TRUE(has(e, "33 tokens"));
  EXPECT_TRUE(has(e, "context"));
}

// The cache's bytes are planned: the Session's budget counts exactly what the KvCache takes.
TEST(KvCacheBudget, TheBudgetIsTheCacheSize) {
  for (ModelFamily f : {ModelFamily::GPT2, ModelFamily::Llama}) {
    SessionOptions o;
    o.executor = false;
    o.generation = GenerationShape{2, 24, 8};
    Session s(tiny_gen_job(f), o);
    const auto& c = s.spec().cfg;
    const uint64_t one = arena_round(uint64_t{2} * c.n_kv_head * 24 * c.head_size() * 4);
    EXPECT_EQ(s.budget().kv_cache, uint64_t(c.n_layer) * 2 * one);
    EXPECT_TRUE(has(s.budget().describe(), "KV cache"));
    Decoder dec(s);
    EXPECT_EQ(dec.cache().bytes(), s.budget().kv_cache);
    // Everything the budget promised fits: the arena's peak is the budget.
    EXPECT_EQ(s.arena().stats().peak_in_use, s.budget().total());
  }
}

TEST(Decoder, RefusesASessionWithoutGenerationBuffers) {
  SessionOptions o;
  o.executor = false;
  Session s(tiny_gen_job(ModelFamily::Llama), o);
  EXPECT_TRUE(has(error_of([&] { Decoder d(s); }), "SessionOptions::generation"));
}

}  // namespace
}  // namespace mart::gentest
