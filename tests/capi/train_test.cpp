// The C API trains exactly as `mart train` does: the loop of mart_session_next_batch +
// mart_session_step_params + mart_session_train_step gives the Trainer's per-step losses bit for
// bit, with resident and with offloaded model states, and mart_session_eval_loss its val_loss.
#include <algorithm>
#include <cmath>

#include "tests/capi/capi_util.h"

namespace mart::capi_test {
namespace {

struct TrainCase {
  const char* name;
  ModelFamily family;
  bool offload;
};

class CapiTrain : public ::testing::TestWithParam<TrainCase> {};

TEST_P(CapiTrain, LossesAndValLossesEqualTheTrainersBitwise) {
  const TrainCase& tc = GetParam();
  JobConfig cfg = tiny_job(tc.family);
  if (tc.offload) cfg = offloaded(cfg);
  TempDir tmp;
  const Run want = trainer_run(cfg, tmp.file("run"));
  ASSERT_EQ(want.losses.size(), 6u);
  ASSERT_EQ(want.val.size(), 2u);  // steps 3 and 6

  SessionPtr s = make_session(cfg);
  ASSERT_TRUE(s);
  const Run got = capi_train(s.get(), cfg, cfg.train.steps);
  EXPECT_TRUE(same_losses(got.losses, want.losses));
  ASSERT_EQ(got.val.size(), want.val.size());
  for (size_t i = 0; i < want.val.size(); ++i) {
    EXPECT_EQ(got.val[i].first, want.val[i].first);
    EXPECT_TRUE(same_bits(got.val[i].second, want.val[i].second))
        << got.val[i].second << " vs " << want.val[i].second;
  }
  EXPECT_EQ(info_of(s.get()).steps_done, cfg.train.steps);
  if (tc.offload) {  // the plan really offloads: pinned host memory holds chunks
    EXPECT_GT(info_of(s.get()).pinned_host_bytes, 0u);
    char* plan = nullptr;
    ASSERT_EQ(mart_session_plan_json(s.get(), &plan), MART_OK) << mart_last_error();
    const nlohmann::json j = nlohmann::json::parse(plan);
    mart_string_free(plan);
    EXPECT_EQ(j.at("memory_mode"), "manual");
    EXPECT_TRUE(has(j.at("model_states").get<std::string>(), " 1 persistent on the device"));
  }
}

INSTANTIATE_TEST_SUITE_P(Plans, CapiTrain,
                         ::testing::Values(TrainCase{"llama_resident", ModelFamily::Llama, false},
                                           TrainCase{"llama_offloaded", ModelFamily::Llama, true},
                                           TrainCase{"gpt2_offloaded", ModelFamily::GPT2, true}),
                         [](const auto& info) { return std::string(info.param.name); });

// Negative control: the comparison can fail. Another train.seed gives other weights and data.
TEST(CapiTrainControl, AnotherSeedGivesOtherLosses) {
  const JobConfig cfg = tiny_job(ModelFamily::Llama, 2);
  JobConfig other = cfg;
  other.train.seed = cfg.train.seed + 1;
  TempDir tmp;
  const Run want = trainer_run(cfg, tmp.file("run"));
  SessionPtr s = make_session(other);
  const Run got = capi_train(s.get(), other, 2);
  EXPECT_FALSE(same_losses(got.losses, want.losses));
}

// The session reports the shapes and the job's schedule; step_params is lr_at of the job.
TEST(CapiTrainControl, InfoAndStepParamsDescribeTheJob) {
  const JobConfig cfg = tiny_job(ModelFamily::Llama);
  SessionPtr s = make_session(cfg);
  const mart_session_info i = info_of(s.get());
  EXPECT_EQ(i.micro_batch, 2);
  EXPECT_EQ(i.seq_len, 16);
  EXPECT_EQ(i.grad_accum, 2);
  EXPECT_EQ(i.vocab_size, 32);
  EXPECT_EQ(i.n_layer, 2);
  EXPECT_EQ(i.steps_done, 0);
  EXPECT_GT(i.n_params, 0);
  EXPECT_GT(i.device_budget_bytes, 0u);
  mart_step_params p1{}, p3{};
  ASSERT_EQ(mart_session_step_params(s.get(), 0, &p1), MART_OK);
  ASSERT_EQ(mart_session_step_params(s.get(), 3, &p3), MART_OK);
  EXPECT_EQ(p1.step, 1);
  EXPECT_EQ(p1.lr, cfg.train.lr * 1 / cfg.train.warmup_steps);  // warmup: step 1 of 2
  EXPECT_EQ(p3.step, 3);
  EXPECT_EQ(p1.beta2, cfg.train.beta2);
  EXPECT_EQ(p1.grad_clip, cfg.train.grad_clip);
  char* json = nullptr;
  ASSERT_EQ(mart_session_config_json(s.get(), &json), MART_OK);
  EXPECT_EQ(job_config_from_json(nlohmann::json::parse(json)).train.seed, cfg.train.seed);
  mart_string_free(json);
}

// Logits of one micro-batch: their cross-entropy against the targets is eval_loss.
TEST(CapiTrainControl, LogitsGiveTheEvalLoss) {
  const JobConfig cfg = tiny_job(ModelFamily::Llama);
  SessionPtr s = make_session(cfg);
  const Tokens t = next_batch(s.get(), 0, 0, 1);
  const size_t V = 32;
  std::vector<float> logits(t.inputs.size() * V);
  ASSERT_EQ(mart_session_logits(s.get(), t.inputs.data(), t.inputs.size(), logits.data(),
                                logits.size()),
            MART_OK)
      << mart_last_error();
  double ce = 0;
  for (size_t r = 0; r < t.inputs.size(); ++r) {
    const float* row = logits.data() + r * V;
    double mx = row[0], sum = 0;
    for (size_t v = 0; v < V; ++v) mx = std::max<double>(mx, row[v]);
    for (size_t v = 0; v < V; ++v) sum += std::exp(row[v] - mx);
    ce += mx + std::log(sum) - row[t.targets[r]];
  }
  ce /= static_cast<double>(t.inputs.size());
  double loss = 0;
  ASSERT_EQ(mart_session_eval_loss(s.get(), t.inputs.data(), t.targets.data(), t.inputs.size(),
                                   &loss),
            MART_OK);
  EXPECT_NEAR(ce, loss, 1e-5 * loss);
  EXPECT_GT(loss, 1.0);  // untrained: near log(32), so the check compares real numbers
}

}  // namespace
}  // namespace mart::capi_test
