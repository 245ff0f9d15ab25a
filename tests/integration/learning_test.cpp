// Learning: on the default job's corpus (the synthetic order-2 Markov source with JobConfig's
// default data settings) a tiny model's loss must fall far below the levels a model without
// working context reaches:
//   unigram  ln(V) = 3.466 (V = 32; the stationary marginal is nearly uniform, H = 3.454)
//   bigram   H(next | previous token) = 3.089  -- the best a model can do WITHOUT attention
//   entropy  H(next | previous two tokens) = 0.825 -- the best achievable (entropy_rate_nats())
// Going below the bigram level requires attention to carry the token before the previous one, so
// a broken attention, gradient, optimizer or data pipeline stalls at or above 3.09 (or diverges).
// Dropping below the entropy rate would mean a target leaked into the inputs (a causal-mask bug).
//
// Measured (CPU, deterministic), final validation loss:
//   Llama, d 64, B 32 x T 32, lr 1e-2, 150 steps: 1.83     asserted < bigram - 0.6 = 2.49
//   GPT-2, d 64, B 16 x T 16, lr 3e-3, 200 steps: ~2.98    asserted < bigram - 0.05 = 3.04
// GPT-2 learns the order-2 structure far more slowly than Llama at equal cost (its learned
// absolute position embeddings must first discover "previous position"; RoPE gives that for
// free): at 600 steps it is at 2.87 where Llama is at 1.6. Both learn an order-1 corpus to within
// 0.06 of its entropy rate in 150 steps. So the GPT-2 check asserts that it has started to use the
// second token of context, with a smaller margin.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "runtime/data/markov_corpus.h"
#include "tests/integration/integ_util.h"

namespace mart::integ {
namespace {

class LearningTest : public ::testing::TestWithParam<ModelFamily> {};

std::string family_name(const ::testing::TestParamInfo<ModelFamily>& i) {
  return family_tag(i.param);
}

struct Levels {
  double unigram, bigram, entropy;
};

// The reference levels of a Markov source of order 2, computed exactly from its tables.
Levels levels_of(const MarkovSource& src) {
  const uint32_t V = src.vocab();
  const auto& pi = src.stationary();
  std::vector<double> joint(static_cast<size_t>(V) * V, 0);  // P(previous = b, next = c)
  for (uint64_t ctx = 0; ctx < src.num_contexts(); ++ctx) {
    const uint32_t b = src.context_symbol(ctx, src.order() - 1);  // most recent symbol
    for (uint32_t c = 0; c < V; ++c) joint[b * V + c] += pi[ctx] * src.prob(ctx, c);
  }
  double h1 = 0;
  for (uint32_t b = 0; b < V; ++b) {
    double pb = 0;
    for (uint32_t c = 0; c < V; ++c) pb += joint[b * V + c];
    for (uint32_t c = 0; c < V; ++c)
      if (joint[b * V + c] > 0) h1 -= joint[b * V + c] * std::log(joint[b * V + c] / pb);
  }
  return {std::log(static_cast<double>(V)), h1, src.entropy_rate_nats()};
}

TEST_P(LearningTest, LossFallsBelowTheBigramLevelTowardTheEntropyRate) {
  const bool gpt2 = GetParam() == ModelFamily::GPT2;
  TempDir tmp;
  JobConfig cfg;  // the default job: its corpus, optimizer and schedule shape...
  cfg.name = "learn";
  cfg.model = tiny_model(GetParam(), 64);  // ...with a tiny model
  cfg.model.max_seq_len = 32;
  cfg.train.micro_batch = gpt2 ? 16 : 32;
  cfg.train.seq_len = gpt2 ? 16 : 32;
  cfg.train.steps = gpt2 ? 200 : 150;
  cfg.train.lr = gpt2 ? 3e-3f : 1e-2f;
  cfg.train.eval_every = cfg.train.steps / 3;
  cfg.train.eval_batches = 4;
  validate(cfg);

  MarkovSpec ms;
  ms.vocab = cfg.data.synthetic_vocab;
  ms.order = cfg.data.synthetic_order;
  ms.branching = cfg.data.synthetic_branching;
  ms.seed = cfg.data.synthetic_seed;
  ASSERT_EQ(ms.order, 2u) << "the default corpus changed; revisit the levels above";
  const Levels lv = levels_of(MarkovSource(ms));
  EXPECT_NEAR(lv.unigram, 3.466, 1e-3);
  EXPECT_NEAR(lv.bigram, 3.089, 1e-3);
  EXPECT_NEAR(lv.entropy, 0.825, 1e-3);

  TrainSummary s = train(cfg, tmp.file("run"));
  auto metrics = read_metrics(tmp.file("run"));
  auto losses = losses_of(metrics);
  auto vals = val_losses_of(metrics);
  ASSERT_EQ(losses.size(), static_cast<size_t>(cfg.train.steps));
  ASSERT_EQ(vals.size(), 3u);
  nlohmann::json summary = nlohmann::json::parse(read_all(s.summary_path));
  EXPECT_EQ(summary.at("entropy_rate_nats").get<double>(), lv.entropy);

  double last10 = 0;
  for (size_t i = losses.size() - 10; i < losses.size(); ++i) last10 += losses[i] / 10;
  std::printf("[learning %s] first %.4f last10 %.4f val %.4f %.4f %.4f\n", family_tag(GetParam()),
              losses.front(), last10, vals[0].second, vals[1].second, vals[2].second);
  // Starts near uniform over the model's vocabulary.
  EXPECT_NEAR(losses.front(), std::log(static_cast<double>(cfg.model.vocab_size)), 0.1);
  const double margin = gpt2 ? 0.05 : 0.6;
  EXPECT_LT(s.final_val_loss, lv.bigram - margin);
  EXPECT_LT(last10, lv.bigram - margin);
  EXPECT_GT(s.final_val_loss, lv.entropy - 0.05);
  // Validation improves at every evaluation.
  EXPECT_LT(vals[1].second, vals[0].second);
  EXPECT_LT(vals[2].second, vals[1].second);
}

INSTANTIATE_TEST_SUITE_P(Families, LearningTest,
                         ::testing::Values(ModelFamily::Llama, ModelFamily::GPT2), family_name);

}  // namespace
}  // namespace mart::integ
