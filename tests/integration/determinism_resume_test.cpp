// Determinism and resume: a training run is a pure function of its config and seed, and a run
// stopped after k steps and resumed continues exactly as if it had never stopped -- every step's
// loss and the final weights and Adam state are bitwise identical, for the synthetic corpus and
// for token shards (across a shard boundary and an epoch wrap, with grad_accum 2).
#include <cblas.h>
#include <gtest/gtest.h>
#include <omp.h>

#include "runtime/data/markov_corpus.h"
#include "runtime/data/token_shard.h"
#include "tests/common/flat_checkpoint.h"
#include "tests/integration/integ_util.h"

namespace mart::integ {
namespace {

class ResumeTest : public ::testing::TestWithParam<ModelFamily> {};

std::string family_param_name(const ::testing::TestParamInfo<ModelFamily>& i) {
  return family_tag(i.param);
}

// Every per-step number that must not depend on stopping/resuming or on the process.
void expect_same_metrics(const std::string& run_a, const std::string& run_b, int steps) {
  auto a = read_metrics(run_a), b = read_metrics(run_b);
  ASSERT_EQ(a.size(), static_cast<size_t>(steps));
  ASSERT_EQ(b.size(), static_cast<size_t>(steps));
  for (int i = 0; i < steps; ++i) {
    SCOPED_TRACE("step " + std::to_string(i + 1));
    EXPECT_EQ(a[i].at("step").get<int>(), i + 1);
    EXPECT_EQ(b[i].at("step").get<int>(), i + 1);
    // Doubles compared with ==: nlohmann writes the shortest text that reads back exactly.
    EXPECT_EQ(a[i].at("loss").get<double>(), b[i].at("loss").get<double>());
    EXPECT_EQ(a[i].at("grad_norm").get<double>(), b[i].at("grad_norm").get<double>());
    EXPECT_EQ(a[i].at("lr").get<double>(), b[i].at("lr").get<double>());
    EXPECT_EQ(a[i].at("tokens").get<uint64_t>(), b[i].at("tokens").get<uint64_t>());
    EXPECT_EQ(a[i].contains("val_loss"), b[i].contains("val_loss"));
    if (a[i].contains("val_loss") && b[i].contains("val_loss")) {
      EXPECT_EQ(a[i].at("val_loss").get<double>(), b[i].at("val_loss").get<double>());
    }
  }
}

// Final weights and optimizer state: the latest checkpoint's files, byte for byte.
void expect_same_final_state(const std::string& run_a, const std::string& run_b) {
  const std::string a = latest_dir(run_a), b = latest_dir(run_b);
  EXPECT_EQ(fs::path(a).filename(), fs::path(b).filename());
  for (const char* f : {"model/model.safetensors", "optimizer.safetensors"}) {
    SCOPED_TRACE(f);
    std::string x = read_all(a + "/" + f), y = read_all(b + "/" + f);
    ASSERT_GT(x.size(), 1000u);
    EXPECT_TRUE(x == y) << "final " << f << " differs between the runs";
  }
}

// Runs `fn` with `n` OpenMP and OpenBLAS threads, then goes back to one (threads_env.cpp).
template <class Fn>
auto with_threads(int n, Fn&& fn) {
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
  struct Restore {
    ~Restore() {
      omp_set_num_threads(1);
      openblas_set_num_threads(1);
    }
  } restore;
  return fn();
}

TEST_P(ResumeTest, SameConfigAndSeedGiveBitwiseIdenticalRuns) {
  TempDir tmp;
  JobConfig cfg = tiny_job(GetParam(), 10);
  const std::string a = tmp.file("a"), b = tmp.file("b"), c = tmp.file("c");
  TrainSummary sa = train(cfg, a), sb = train(cfg, b);
  EXPECT_EQ(sa.steps_done, 10);
  EXPECT_EQ(sa.final_loss, sb.final_loss);
  expect_same_metrics(a, b, 10);
  expect_same_final_state(a, b);

  // The comparison can fail: another seed (another init and data stream) changes every loss.
  JobConfig other = cfg;
  other.train.seed = cfg.train.seed + 1;
  train(other, c);
  auto la = losses_of(read_metrics(a)), lc = losses_of(read_metrics(c));
  ASSERT_EQ(la.size(), lc.size());
  for (size_t i = 0; i < la.size(); ++i) EXPECT_NE(la[i], lc[i]) << "step " << i + 1;
}

TEST_P(ResumeTest, ResumeOnSyntheticDataIsBitwiseIdentical) {
  TempDir tmp;
  JobConfig cfg = tiny_job(GetParam(), 12);
  cfg.train.eval_every = 5;  // validation before and after the stop, and at the last step
  const std::string full = tmp.file("full"), split = tmp.file("split");
  train(cfg, full);

  TrainSummary first = train(cfg, split, /*stop_after=*/5);
  EXPECT_EQ(first.steps_done, 5);
  EXPECT_EQ(fs::path(latest_dir(split)).filename(), "step_00000005");
  TrainSummary rest = train(cfg, split, -1, /*resume=*/true);
  EXPECT_EQ(rest.steps_done, 12);

  expect_same_metrics(full, split, 12);
  expect_same_final_state(full, split);
}

// A format 2 checkpoint (flat, as MART wrote before the model/ folder) still resumes bitwise.
TEST_P(ResumeTest, ResumeFromFormatTwoCheckpointIsBitwiseIdentical) {
  TempDir tmp;
  JobConfig cfg = tiny_job(GetParam(), 8);
  const std::string full = tmp.file("full"), split = tmp.file("split");
  train(cfg, full);
  train(cfg, split, /*stop_after=*/4);
  const std::string ckpt = latest_dir(split);
  testutil::make_flat_checkpoint(ckpt);
  ASSERT_FALSE(fs::exists(ckpt + "/model"));  // really the old layout
  ASSERT_TRUE(fs::exists(ckpt + "/model.safetensors"));
  ASSERT_TRUE(has(read_all(ckpt + "/manifest.json"), "\"format_version\": 2"));
  train(cfg, split, -1, /*resume=*/true);
  expect_same_metrics(full, split, 8);
  expect_same_final_state(full, split);  // the new checkpoint is format 3 again
  EXPECT_TRUE(fs::exists(latest_dir(split) + "/model/model.safetensors"));
}

// Two resumes in a row: the checkpoint written at a stop is itself resumable.
TEST_P(ResumeTest, ResumeTwiceIsBitwiseIdentical) {
  TempDir tmp;
  JobConfig cfg = tiny_job(GetParam(), 9);
  const std::string full = tmp.file("full"), split = tmp.file("split");
  train(cfg, full);
  train(cfg, split, 3);
  train(cfg, split, 3, true);
  EXPECT_EQ(fs::path(latest_dir(split)).filename(), "step_00000006");
  train(cfg, split, -1, true);
  expect_same_metrics(full, split, 9);
  expect_same_final_state(full, split);
}

// Writes llm.c shards of Markov text: `n_shards` train shards of `tokens_each` tokens and one
// validation shard, under dir/data.
void write_shards(const std::string& dir, int n_shards, int tokens_each) {
  fs::create_directories(dir + "/data");
  auto src = std::make_shared<MarkovSource>(MarkovSpec{});
  MarkovStream stream(src, 7);
  for (int s = 0; s <= n_shards; ++s) {
    std::vector<uint32_t> tok(static_cast<size_t>(tokens_each));
    for (auto& t : tok) t = stream.next();
    std::string name = s < n_shards ? "train_" + std::to_string(s) + ".bin" : "val.bin";
    write_token_shard(dir + "/data/" + name, tok, TokenFormat::U16);
  }
}

TEST_P(ResumeTest, ResumeOnTokenShardsWithGradAccumIsBitwiseIdentical) {
  TempDir tmp;
  const std::string d = tmp.path().string();
  // T = 16: each shard of 20*16+1 tokens holds 20 windows; a step takes grad_accum x B = 4, so
  // 12 steps (48 windows) cross the shard boundary at step 5 and wrap to epoch 1 at step 10.
  write_shards(d, 2, 20 * 16 + 1);
  JobConfig cfg = tiny_job(GetParam(), 12);
  cfg.data.source = "shards";
  cfg.data.order = "sequential";  // the shard walk asserted below (random/shuffle: test_data_order)
  cfg.data.train_pattern = d + "/data/train_*.bin";
  cfg.data.val_pattern = d + "/data/val.bin";
  cfg.train.grad_accum = 2;
  cfg.train.eval_every = 4;
  validate(cfg);

  const std::string full = d + "/full", split = d + "/split";
  train(cfg, full);
  train(cfg, split, 7);  // stops inside shard 1
  nlohmann::json st = nlohmann::json::parse(read_all(latest_dir(split) + "/trainer_state.json"));
  EXPECT_EQ(st.at("step").get<int>(), 7);
  EXPECT_EQ(st.at("loader").at("shard").get<int>(), 1) << st.dump();
  train(cfg, split, -1, true);

  expect_same_metrics(full, split, 12);
  expect_same_final_state(full, split);
  nlohmann::json end = nlohmann::json::parse(read_all(latest_dir(full) + "/trainer_state.json"));
  EXPECT_EQ(end.at("loader").at("epoch").get<int>(), 1) << "the run should have wrapped";
  // tokens_seen counts every target of every micro-batch: 12 steps x 2 x 2 x 16.
  EXPECT_EQ(end.at("tokens_seen").get<uint64_t>(), 12u * 2 * 2 * 16);
}

// The CPU kernels promise results independent of the thread count (fixed reduction partitioning);
// end to end, a run with 2 threads equals the single-threaded one. Few steps: on a busy machine
// spinning worker threads make each step slow (threads_env.cpp).
TEST_P(ResumeTest, ThreadCountDoesNotChangeTheRun) {
  TempDir tmp;
  JobConfig cfg = tiny_job(GetParam(), 3);
  train(cfg, tmp.file("one"));
  with_threads(2, [&] { return train(cfg, tmp.file("two")); });
  expect_same_metrics(tmp.file("one"), tmp.file("two"), 3);
  expect_same_final_state(tmp.file("one"), tmp.file("two"));
}

INSTANTIATE_TEST_SUITE_P(Families, ResumeTest,
                         ::testing::Values(ModelFamily::Llama, ModelFamily::GPT2),
                         family_param_name);

}  // namespace
}  // namespace mart::integ
