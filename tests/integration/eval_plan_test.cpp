// Evaluation in sequences and tokens (train.eval_sequences): the validation loss covers the same
// sequences whatever the plan's micro-batch, summed per token in one fixed order; train.steps: 0
// only evaluates; warmup longer than the run is clamped with a note.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "runtime/data/token_shard.h"
#include "tests/integration/integ_util.h"

namespace mart::integ {
namespace {

struct Eval {
  double loss = 0;
  uint64_t sequences = 0, tokens = 0;
};

// A steps: 0 run of `cfg` (fresh weights from train.seed): its one metrics line.
Eval eval_only(JobConfig cfg, const std::string& run_dir) {
  cfg.train.steps = 0;
  validate(cfg);
  train(cfg, run_dir);
  const auto m = read_metrics(run_dir);
  EXPECT_EQ(m.size(), 1u);
  EXPECT_FALSE(fs::exists(run_dir + "/checkpoints")) << "an evaluation trains nothing to save";
  const auto& j = m.at(0);
  EXPECT_EQ(j.at("step").get<int>(), 0);
  return {j.at("val_loss").get<double>(), j.at("val_sequences").get<uint64_t>(),
          j.at("val_tokens").get<uint64_t>()};
}

JobConfig job(int micro_batch, int grad_accum, int eval_sequences) {
  JobConfig c = tiny_job(ModelFamily::Llama);
  c.train.micro_batch = micro_batch;
  c.train.grad_accum = grad_accum;
  c.train.eval_batches = 0;
  c.train.eval_sequences = eval_sequences;
  c.train.eval_every = 2;
  validate(c);
  return c;
}

bool same_bits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// 8x1 resident, 4x2 resident, and 8x1 under another memory plan (offloaded chunks, recomputed
// block): the same 12 sequences (768 tokens; 8x1 pads its second micro-batch) and the same loss
// -- bitwise where the micro-batch is the same. Before, validation ran eval_batches x micro_batch
// sequences: 4x2 evaluated half the tokens of 8x1.
TEST(EvalPlan, ValidationCoversTheSameTokensWhateverThePlan) {
  TempDir tmp;
  const Eval a = eval_only(job(8, 1, 12), tmp.file("8x1"));
  const Eval b = eval_only(job(4, 2, 12), tmp.file("4x2"));
  JobConfig offload = job(8, 1, 12);
  offload.memory.mode = "manual";
  offload.memory.n_persist = 0;
  offload.memory.n_buffer = 2;
  offload.memory.chunk_size = 64 << 10;
  offload.activations.counts[ActMode::Checkpoint] = 1;
  validate(offload);
  const Eval c = eval_only(offload, tmp.file("8x1-offload"));

  EXPECT_EQ(a.sequences, 12u);
  EXPECT_EQ(a.tokens, 12u * 16);
  EXPECT_EQ(b.tokens, a.tokens);
  EXPECT_EQ(c.tokens, a.tokens);
  EXPECT_NEAR(b.loss, a.loss, 1e-6 * a.loss);
  EXPECT_TRUE(same_bits(c.loss, a.loss)) << c.loss << " vs " << a.loss;
  std::printf("[eval-plan] 8x1 %.9f, 4x2 %.9f, 8x1 offloaded %.9f over %llu tokens\n", a.loss,
              b.loss, c.loss, static_cast<unsigned long long>(a.tokens));

  // Negative control: other sequences give another token count and another loss.
  const Eval d = eval_only(job(8, 1, 8), tmp.file("8 sequences"));
  EXPECT_EQ(d.tokens, 8u * 16);
  EXPECT_GT(std::fabs(d.loss - a.loss), 1e-4);
}

// During training too: every evaluation of a 4x2 run covers the tokens of the 8x1 run's, and the
// summary says how many.
TEST(EvalPlan, TrainingRunsReportTheirValidationTokens) {
  TempDir tmp;
  std::vector<std::vector<double>> losses;
  for (auto [mb, ga] : {std::pair{8, 1}, std::pair{4, 2}}) {
    const std::string run = tmp.file(std::to_string(mb) + "x" + std::to_string(ga));
    JobConfig c = job(mb, ga, 10);
    c.train.steps = 4;
    train(c, run);
    losses.push_back(losses_of(read_metrics(run)));
    int evals = 0;
    for (const auto& m : read_metrics(run))
      if (m.contains("val_loss")) {
        ++evals;
        EXPECT_EQ(m.at("val_sequences").get<int>(), 10);
        EXPECT_EQ(m.at("val_tokens").get<int>(), 160);
      }
    EXPECT_EQ(evals, 2);
    const auto s = nlohmann::json::parse(read_all(run + "/summary.json"));
    EXPECT_EQ(s.at("val_tokens").get<int>(), 160);
  }
  // The same global batch split 8x1 and 4x2 trains on the same data: close, summed differently.
  double worst = 0;
  for (size_t k = 0; k < losses[0].size(); ++k)
    worst = std::max(worst, std::fabs(losses[0][k] - losses[1][k]) / losses[0][k]);
  std::printf("[eval-plan] train loss 8x1 vs 4x2: largest relative difference %.2e\n", worst);
  EXPECT_LT(worst, 1e-5);
}

// The older key still reads: eval_batches x micro_batch sequences (the config's micro_batch).
TEST(EvalPlan, EvalBatchesStillReadsAsSequences) {
  TempDir tmp;
  JobConfig c = job(4, 1, 99);
  c.train.eval_batches = 3;
  validate(c);
  EXPECT_EQ(eval_only(c, tmp.file("run")).sequences, 12u);
}

TEST(EvalPlan, StepsZeroEvaluatesFromTheCommandLine) {
  TempDir tmp;
  const std::string run = tmp.file("run");
  CmdResult r = run_cmd(mart_bin() + " train --no-progress --run-dir " + sh_quote(run) +
                        " --set train.steps=0 --set train.eval_sequences=6");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "evaluated (train.steps = 0)")) << r.output;
  const auto s = nlohmann::json::parse(read_all(run + "/summary.json"));
  EXPECT_EQ(s.at("steps").get<int>(), 0);
  EXPECT_EQ(s.at("val_sequences").get<int>(), 6);
  EXPECT_GT(s.at("final_val_loss").get<double>(), 0.5);
  // Negative control: without validation data there is nothing to evaluate, and it says so.
  TempDir data;
  std::vector<uint32_t> tok(4000);
  for (size_t i = 0; i < tok.size(); ++i) tok[i] = static_cast<uint32_t>(i % 200);
  write_token_shard(data.file("t.bin"), tok, TokenFormat::U16);
  r = run_cmd(mart_bin() + " train --no-progress --run-dir " + sh_quote(tmp.file("run2")) +
              " --set train.steps=0 --set data.source=shards --set data.train_pattern=" +
              sh_quote(data.file("t.bin")));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(has(r.output, "train.steps = 0 only evaluates")) << r.output;
  EXPECT_TRUE(has(r.output, "data.val_pattern")) << r.output;
}

// The default job warms up for 10 steps; a 5-step run warms up over all 5 and says so.
TEST(EvalPlan, WarmupLongerThanTheRunIsClamped) {
  TempDir tmp;
  const std::string run = tmp.file("run");
  CmdResult r = run_cmd(mart_bin() + " train --no-progress --run-dir " + sh_quote(run) +
                        " --set train.steps=5 --set train.eval_every=0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "train.warmup_steps = 10 exceeds train.steps = 5")) << r.output;
  const auto m = read_metrics(run);
  ASSERT_EQ(m.size(), 5u);
  // Linear warmup over the 5 steps: lr 3e-3 x (k / 5), the last step at the peak.
  for (int k = 0; k < 5; ++k)
    EXPECT_NEAR(m[k].at("lr").get<double>(), 3e-3 * (k + 1) / 5, 1e-9) << k;
}

}  // namespace
}  // namespace mart::integ
