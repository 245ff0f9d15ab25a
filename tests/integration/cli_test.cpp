// The `mart` launcher end to end: help texts, byte-level data preparation on tinyshakespeare, and
// a short training run on the prepared shards whose validation loss clearly falls.
#include <gtest/gtest.h>

#include "runtime/data/token_shard.h"
#include "tests/integration/integ_util.h"

namespace mart::integ {
namespace {

const std::string kShakespeare = MART_SOURCE_DIR "/../shared/data/tinyshakespeare.txt";

TEST(Cli, HelpTextsSucceedAndNameTheirOptions) {
  CmdResult r = run_cmd(mart_bin() + " --help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* s : {"train", "prepare-data", "--version"}) EXPECT_TRUE(has(r.output, s));

  r = run_cmd(mart_bin() + " train --help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* s : {"--set", "--run-dir", "--resume", "--init-from", "--stop-after",
                        "--no-progress", "KEY=VALUE"})
    EXPECT_TRUE(has(r.output, s));

  r = run_cmd(mart_bin() + " prepare-data --help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* s : {"--output", "--val-fraction", "text"}) EXPECT_TRUE(has(r.output, s));

  // No subcommand and an unknown subcommand are usage errors.
  EXPECT_NE(run_cmd(mart_bin()).exit_code, 0);
  // (CLI11 reports a misspelt subcommand only as "A subcommand is required"; see the report.)
  EXPECT_NE(run_cmd(mart_bin() + " trian").exit_code, 0);
}

TEST(Cli, PrepareDataThenTrainLowersValidationLoss) {
  if (!fs::exists(kShakespeare)) GTEST_SKIP() << kShakespeare << " is not present (shared data)";
  TempDir tmp;
  const uint64_t text_bytes = fs::file_size(kShakespeare);

  CmdResult r = run_cmd(mart_bin() + " prepare-data " + sh_quote(kShakespeare) + " -o " +
                        sh_quote(tmp.file("shakespeare.bin")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string train_bin = tmp.file("shakespeare.bin"),
                    val_bin = tmp.file("shakespeare_val.bin");
  EXPECT_TRUE(has(r.output, train_bin));
  EXPECT_TRUE(has(r.output, val_bin));
  ShardInfo ti = read_shard_info(train_bin), vi = read_shard_info(val_bin);
  EXPECT_EQ(ti.format, TokenFormat::U16);
  EXPECT_EQ(ti.num_tokens + vi.num_tokens, text_bytes) << "one token per byte";
  EXPECT_NEAR(static_cast<double>(vi.num_tokens) / text_bytes, 0.1, 0.001);  // default fraction
  // Byte tokens: the validation shard is the text's last bytes, verbatim.
  std::vector<uint32_t> vt = TokenShard(val_bin, 256).tokens();
  std::string text = read_all(kShakespeare);
  ASSERT_EQ(vt.size(), vi.num_tokens);
  for (size_t i = 0; i < 64; ++i)
    EXPECT_EQ(vt[i], static_cast<unsigned char>(text[text.size() - vt.size() + i]));

  const std::string run = tmp.file("run");
  std::string cmd = mart_bin() + " train --no-progress --run-dir " + sh_quote(run) +
                    " --set name=shakespeare --set model=tiny-llama"
                    " --set data.source=shards"
                    " --set data.train_pattern=" +
                    sh_quote(train_bin) + " --set data.val_pattern=" + sh_quote(val_bin) +
                    " --set train.micro_batch=8 --set train.seq_len=64 --set train.steps=40"
                    " --set train.warmup_steps=4 --set train.lr=1e-2"
                    " --set train.eval_every=10 --set train.eval_batches=4";
  r = run_cmd(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "mart: done: 40 steps"));
  auto vals = val_losses_of(read_metrics(run));
  ASSERT_EQ(vals.size(), 4u);
  EXPECT_EQ(vals.front().first, 10);
  EXPECT_EQ(vals.back().first, 40);
  std::printf("[cli] val loss at step 10: %.4f, at step 40: %.4f\n", vals.front().second,
              vals.back().second);
  // A byte model first learns character frequencies (~3.3 nats, vs ln 256 = 5.5), then bigrams;
  // the last evaluation must be clearly below the first.
  EXPECT_LT(vals.back().second, vals.front().second - 0.25);
  EXPECT_LT(vals.back().second, std::log(256.0) - 2.0);
  nlohmann::json summary = nlohmann::json::parse(read_all(run + "/summary.json"));
  EXPECT_EQ(summary.at("steps").get<int>(), 40);
  EXPECT_EQ(summary.at("final_val_loss").get<double>(), vals.back().second);
  EXPECT_TRUE(fs::exists(run + "/config.yaml"));
  EXPECT_TRUE(fs::exists(latest_dir(run) + "/model/model.safetensors"));
}

// libgomp reads OMP_WAIT_POLICY before main, so mart re-executes itself with PASSIVE when the
// variable is unset (launcher/openmp_env.cpp); a value the user set is kept. The run's
// summary.json records what it ran with.
TEST(Cli, TrainRunsWithPassiveOpenMpUnlessTheUserChose) {
  TempDir tmp;
  for (const std::string policy : {"", "ACTIVE"}) {
    SCOPED_TRACE("OMP_WAIT_POLICY=" + policy);
    const std::string run = tmp.file("run" + policy);
    const std::string env =
        policy.empty() ? "env -u OMP_WAIT_POLICY " : "env OMP_WAIT_POLICY=" + policy + " ";
    const CmdResult r = run_cmd(
        env + mart_bin() + " train --set train.steps=2 --set train.warmup_steps=1 " +
        "--set train.eval_every=0 " +
        "--set model.n_layer=1 --set model.d_model=32 --set model.d_ff=64 " +
        "--set model.n_head=2 --set model.n_kv_head=1 --no-progress --run-dir " + sh_quote(run));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const nlohmann::json sum = nlohmann::json::parse(read_all(run + "/summary.json"));
    EXPECT_EQ(sum.at("environment").at("OMP_WAIT_POLICY"), policy.empty() ? "PASSIVE" : policy);
    EXPECT_EQ(sum.at("environment").at("OMP_NUM_THREADS"), "1");  // mart_bin()'s
  }
}

TEST(Cli, PrepareDataRejectsAMissingInput) {
  TempDir tmp;
  CmdResult r = run_cmd(mart_bin() + " prepare-data " + sh_quote(tmp.file("nope.txt")) + " -o " +
                        sh_quote(tmp.file("x.bin")));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(has(r.output, "nope.txt"));
}

}  // namespace
}  // namespace mart::integ
