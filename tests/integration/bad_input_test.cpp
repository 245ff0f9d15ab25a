// Bad input gets a clear error naming the problem, and nothing saved is lost: a failed resume
// (corrupt, truncated or mismatched checkpoint, missing data) leaves the run directory
// byte-identical, so fixing the cause and resuming again still works.
#include <gtest/gtest.h>

#include "runtime/checkpoint/train_checkpoint.h"
#include "runtime/data/markov_corpus.h"
#include "runtime/data/token_shard.h"
#include "tests/integration/integ_util.h"

namespace mart::integ {
namespace {

class BadInputTest : public ::testing::TestWithParam<ModelFamily> {};

std::string family_param_name(const ::testing::TestParamInfo<ModelFamily>& i) {
  return family_tag(i.param);
}

// A run stopped after 3 of 6 steps: there is something to resume.
struct StoppedRun {
  TempDir tmp;
  JobConfig cfg;
  std::string run;
  explicit StoppedRun(ModelFamily f) : cfg(tiny_job(f, 6)), run(tmp.file("run")) {
    train(cfg, run, 3);
  }
  std::string ckpt() const { return latest_dir(run); }
};

// Resuming fails with a message containing every one of `needles`, and the run directory
// (checkpoints, metrics, config) is unchanged by the attempt.
void expect_resume_fails(const StoppedRun& r, const JobConfig& cfg,
                         const std::vector<std::string>& needles) {
  auto before = tree_hash(r.run);
  std::string e = error_of([&] { train(cfg, r.run, -1, true); });
  for (const auto& n : needles) EXPECT_TRUE(has(e, n));
  EXPECT_EQ(tree_hash(r.run), before) << "a failed resume modified the run directory";
}

void flip_byte(const std::string& path, size_t from_end) {
  std::string b = read_all(path);
  ASSERT_GT(b.size(), from_end);
  b[b.size() - 1 - from_end] ^= 0x10;
  write_all(path, b);
}

TEST_P(BadInputTest, FlippedByteInOptimizerStateFailsCrcCheck) {
  StoppedRun r(GetParam());
  const std::string opt = r.ckpt() + "/optimizer.safetensors";
  flip_byte(opt, 5);  // inside the tensor data: the file still parses
  expect_resume_fails(r, r.cfg, {opt, "fails its CRC32C check", "corrupt checkpoint"});
  // The same through the CLI: one line, non-zero exit.
  CmdResult c = run_cmd(mart_bin() + " train --no-progress --resume " + sh_quote(r.run));
  EXPECT_NE(c.exit_code, 0);
  EXPECT_TRUE(has(c.output, "mart: error:"));
  EXPECT_TRUE(has(c.output, "optimizer.safetensors fails its CRC32C check"));
}

TEST_P(BadInputTest, TruncatedModelFileFailsSizeCheck) {
  StoppedRun r(GetParam());
  const std::string model = r.ckpt() + "/model/model.safetensors";
  std::string b = read_all(model);
  const size_t full = b.size();
  write_all(model, b.substr(0, full - 100));
  expect_resume_fails(r, r.cfg,
                      {model, "has " + std::to_string(full - 100) + " bytes, expected " +
                                  std::to_string(full) + " (truncated?)"});
}

TEST_P(BadInputTest, MissingCheckpointFileIsNamed) {
  StoppedRun r(GetParam());
  fs::remove(r.ckpt() + "/optimizer.safetensors");
  expect_resume_fails(r, r.cfg, {"optimizer.safetensors is missing"});
}

TEST_P(BadInputTest, ResumeWithADifferentModelShapeFails) {
  StoppedRun r(GetParam());
  JobConfig cfg = checkpoint_config(r.ckpt());
  EXPECT_EQ(to_json(cfg), to_json(r.cfg)) << "the checkpoint stores the run's config";
  cfg.model.d_ff += 32;
  expect_resume_fails(r, cfg, {"model config mismatch", r.ckpt()});
  // Loading into a different spec directly says the same, before touching any state.
  ModelConfig wide = r.cfg.model;
  wide.d_model = 64;
  Rig b(wide, 2, 16);
  std::vector<float> before = b.param(0);
  std::string e = error_of([&] { load_checkpoint(r.ckpt(), b.spec, *b.states); });
  EXPECT_TRUE(has(e, "model config mismatch"));
  EXPECT_TRUE(bitwise_equal(b.param(0), before));
}

// A different head count keeps every tensor's shape, so a shape check alone cannot notice it;
// the weights would silently be reinterpreted by another attention layout.
// MART BUG (runtime/checkpoint/train_checkpoint.cpp, load_checkpoint): only the parameter count is
// compared with the saved config; comparing the saved ModelConfig (n_head, n_kv_head, norm_eps,
// rope_theta, max_seq_len, ...) with spec.cfg would catch this. Expected to fail until fixed.
TEST_P(BadInputTest, ResumeWithADifferentHeadCountFails) {
  StoppedRun r(GetParam());
  JobConfig cfg = r.cfg;
  // Llama: k/v width n_kv_head * head_size stays 2 * 8 = 1 * 16, so every shape is unchanged.
  cfg.model.n_head = 2;
  cfg.model.n_kv_head = GetParam() == ModelFamily::GPT2 ? 2 : 1;
  expect_resume_fails(r, cfg, {"n_head"});
}

// A damaged newest checkpoint no longer fails the resume: the run walks back to the newest intact
// one, says which it skipped and why, and finishes. Before, the resume failed on the CRC error
// although step 2's checkpoint was intact.
TEST_P(BadInputTest, DamagedNewestCheckpointResumesFromTheNewestIntactOne) {
  TempDir tmp;
  JobConfig cfg = tiny_job(GetParam(), 6);
  cfg.train.checkpoint_every = 1;
  const std::string run = tmp.file("run");
  train(cfg, run, 3);
  const std::string ckpt = run + "/checkpoints/step_00000003";
  flip_byte(ckpt + "/optimizer.safetensors", 5);
  write_all(run + "/checkpoints/latest", "step_00000042\n");  // a pointer to nowhere, too
  CmdResult c = run_cmd(mart_bin() + " train --no-progress --resume " + sh_quote(run));
  EXPECT_EQ(c.exit_code, 0) << c.output;
  EXPECT_TRUE(
      has(c.output, "mart: skipping damaged checkpoint step_00000003: corrupt checkpoint: " + ckpt +
                        "/optimizer.safetensors fails its CRC32C check"));
  EXPECT_TRUE(has(c.output, "mart: resuming from " + run + "/checkpoints/step_00000002"));
  const auto m = read_metrics(run);
  ASSERT_FALSE(m.empty());
  EXPECT_EQ(m.back()["step"], 6);
  EXPECT_EQ(m.size(), 6u) << "steps 3..6 are retrained after step 2's checkpoint";
}

TEST_P(BadInputTest, ResumeWithoutCheckpointFails) {
  TempDir tmp;
  std::string e = error_of([&] { train(tiny_job(GetParam()), tmp.file("nothing"), -1, true); });
  EXPECT_TRUE(has(e, "no checkpoint to resume"));
}

// A resumed run that diverges fails mid-run, but the checkpoint it resumed from stays intact.
TEST_P(BadInputTest, DivergingResumedRunKeepsItsCheckpoint) {
  // A 40-step job stopped after 3 steps, so the diverging resume has steps to diverge in.
  TempDir tmp;
  const JobConfig base = tiny_job(GetParam(), 40);
  const std::string run = tmp.file("run");
  train(base, run, 3);
  auto before = tree_hash(run + "/checkpoints");
  // Values inside the config limits (config_limits.h; lr 1e30 is refused at load now) that still
  // diverge: with beta2 = 0 and eps 1e-20, an embedding row whose token is absent from a batch
  // (gradient 0, so v = 0) moves by lr * m / 1e-20 and the weights overflow. Deterministic.
  JobConfig cfg = base;
  cfg.train.lr = 1;
  cfg.train.beta2 = 0;
  cfg.train.eps = 1e-20f;
  cfg.train.warmup_steps = 0;
  std::string e = error_of([&] { train(cfg, run, -1, true); });
  EXPECT_TRUE(has(e, "training diverged"));
  EXPECT_EQ(tree_hash(run + "/checkpoints"), before);
  // lr 1e30 (the old trigger) is an input error now, and leaves the checkpoint alone too.
  cfg.train.lr = 1e30f;
  EXPECT_TRUE(has(error_of([&] { train(cfg, run, -1, true); }), "train.lr = 1e+30 is above"));
  EXPECT_EQ(tree_hash(run + "/checkpoints"), before);
  // ... and the original config resumes from it normally.
  EXPECT_EQ(train(base, run, -1, true).steps_done, 40);
}

void write_markov_shard(const std::string& path, int n) {
  auto src = std::make_shared<MarkovSource>(MarkovSpec{});
  MarkovStream s(src, 3);
  std::vector<uint32_t> tok(static_cast<size_t>(n));
  for (auto& t : tok) t = s.next();
  write_token_shard(path, tok, TokenFormat::U16);
}

TEST_P(BadInputTest, MissingShardPatternIsNamed) {
  TempDir tmp;
  JobConfig cfg = tiny_job(GetParam());
  cfg.data.source = "shards";
  cfg.data.train_pattern = tmp.file("train_*.bin");
  std::string e = error_of([&] { train(cfg, tmp.file("run")); });
  EXPECT_TRUE(has(e, "pattern '" + cfg.data.train_pattern + "' matches no files"));
  EXPECT_FALSE(fs::exists(tmp.file("run"))) << "a failed start should not create the run dir";

  // On resume: the shards were deleted; the checkpoint is untouched.
  write_markov_shard(tmp.file("train_0.bin"), 2000);
  train(cfg, tmp.file("run"), 2);
  auto before = tree_hash(tmp.file("run"));
  fs::remove(tmp.file("train_0.bin"));
  e = error_of([&] { train(cfg, tmp.file("run"), -1, true); });
  EXPECT_TRUE(has(e, "pattern '" + cfg.data.train_pattern + "' matches no files"));
  EXPECT_EQ(tree_hash(tmp.file("run")), before);
}

// A pattern whose directory does not exist is the commonest typo (data/ vs dat/).
// MART BUG (io/file_glob.cpp, expand_glob): glob() is called with GLOB_ERR, so a
// missing directory makes it return GLOB_ABORTED and the message blames permissions ("cannot
// read a directory ... (check permissions)"). Fix: pass an errfunc that returns 0 for
// ENOENT/ENOTDIR (or drop GLOB_ERR and keep the no-match check), so this reports "matches no
// files". Expected to fail until fixed.
TEST_P(BadInputTest, ShardPatternInAMissingDirectoryMatchesNoFiles) {
  TempDir tmp;
  JobConfig cfg = tiny_job(GetParam());
  cfg.data.source = "shards";
  cfg.data.train_pattern = tmp.file("no_such_dir/train_*.bin");
  std::string e = error_of([&] { train(cfg, tmp.file("run")); });
  EXPECT_TRUE(has(e, "pattern '" + cfg.data.train_pattern + "' matches no files"));
  EXPECT_FALSE(has(e, "check permissions")) << "the directory is missing, not unreadable";
}

TEST_P(BadInputTest, TruncatedShardIsNamed) {
  TempDir tmp;
  const std::string shard = tmp.file("train.bin");
  write_markov_shard(shard, 2000);
  std::string b = read_all(shard);
  write_all(shard, b.substr(0, b.size() - 10));
  JobConfig cfg = tiny_job(GetParam());
  cfg.data.source = "shards";
  cfg.data.train_pattern = shard;
  std::string e = error_of([&] { train(cfg, tmp.file("run")); });
  EXPECT_TRUE(has(e, "token shard '" + shard + "'"));
  EXPECT_TRUE(has(e, "header says 2000"));
  EXPECT_TRUE(has(e, "the file is truncated"));
}

TEST_P(BadInputTest, ShardTokensOutsideTheVocabularyAreNamed) {
  TempDir tmp;
  const std::string shard = tmp.file("train.bin");
  std::vector<uint32_t> tok(500, 3);
  tok[123] = 300;  // a byte-level shard fed to a 32-token model
  write_token_shard(shard, tok, TokenFormat::U16);
  JobConfig cfg = tiny_job(GetParam());
  cfg.data.source = "shards";
  cfg.data.train_pattern = shard;
  std::string e = error_of([&] { train(cfg, tmp.file("run")); });
  EXPECT_TRUE(has(e, "token 300 at index 123"));
}

TEST_P(BadInputTest, HeadsNotDividingWidthIsNamed) {
  TempDir tmp;
  JobConfig cfg = tiny_job(GetParam());
  cfg.model.n_head = 5;
  cfg.model.n_kv_head = 5;
  std::string e = error_of([&] { train(cfg, tmp.file("run")); });
  EXPECT_TRUE(has(e, "model.n_head = 5 does not divide model.d_model = 32"));
  // The model layer says so too when used directly.
  e = error_of([&] { build_model_spec(cfg.model); });
  EXPECT_TRUE(has(e, "n_head (5) must divide d_model (32)"));
}

INSTANTIATE_TEST_SUITE_P(Families, BadInputTest,
                         ::testing::Values(ModelFamily::Llama, ModelFamily::GPT2),
                         family_param_name);

// An unknown key in a config file, through the real binary: non-zero exit, the key's full path,
// the file and line, and the suggestion.
TEST(BadInputCli, UnknownConfigKeyNamesKeyAndSuggestion) {
  TempDir tmp;
  write_all(tmp.file("job.yaml"),
            "name: typo\n"
            "model: tiny-llama\n"
            "train:\n"
            "  steps: 3\n"
            "  micro_bacth: 2\n");
  CmdResult r = run_cmd(mart_bin() + " train " + sh_quote(tmp.file("job.yaml")) + " --run-dir " +
                        sh_quote(tmp.file("run")) + " --no-progress");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "train.micro_bacth: unknown key"));
  EXPECT_TRUE(has(r.output, "did you mean 'micro_batch'?"));
  EXPECT_TRUE(has(r.output, "job.yaml:5"));
  EXPECT_FALSE(fs::exists(tmp.file("run")));

  // The same key through --set.
  r = run_cmd(mart_bin() + " train --set train.lrr=0.1 --run-dir " + sh_quote(tmp.file("run2")));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(has(r.output, "train.lrr"));
  EXPECT_TRUE(has(r.output, "did you mean 'lr'?"));
}

TEST(BadInputCli, InvalidValueNamesTheField) {
  TempDir tmp;
  CmdResult r =
      run_cmd(mart_bin() + " train --set model.n_head=7 --run-dir " + sh_quote(tmp.file("run")));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(has(r.output, "model.n_head = 7 does not divide model.d_model = 256"));
}

}  // namespace
}  // namespace mart::integ
