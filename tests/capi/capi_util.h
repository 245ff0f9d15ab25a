// Helpers for the C API tests: tiny jobs passed to the C API as YAML text (to_yaml round-trips
// exactly), a session owner, the `mart train` loop written against the C API, and the Trainer's
// own metrics for comparison.
#pragma once
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/config_loader.h"
#include "mart/mart.h"
#include "profiler/auto_plan.h"
#include "runtime/trainer.h"
#include "tests/common/test_util.h"

namespace mart::capi_test {

using testutil::has;
using testutil::TempDir;

// Two blocks of width 32 over the default 32-symbol synthetic corpus: a step takes milliseconds.
// Llama with grouped-query attention; GPT-2 tied (its Conv1D weights are transposed in HF files).
inline JobConfig tiny_job(ModelFamily f, int steps = 6) {
  JobConfig c;
  c.name = "capi-test";
  c.model.family = f;
  c.model.n_layer = 2;
  c.model.d_model = 32;
  c.model.n_head = 4;
  c.model.n_kv_head = f == ModelFamily::GPT2 ? 4 : 2;
  c.model.d_ff = f == ModelFamily::GPT2 ? 128 : 64;
  c.model.vocab_size = 32;
  c.model.max_seq_len = 32;
  c.model.tied_embeddings = f == ModelFamily::GPT2;
  c.train.micro_batch = 2;
  c.train.seq_len = 16;
  c.train.grad_accum = 2;
  c.train.steps = steps;
  c.train.warmup_steps = 2;
  c.train.eval_every = 3;
  c.train.eval_batches = 2;
  validate(c);
  return c;
}

// The same job with chunked model states, some chunks offloaded (n_persist < chunks).
inline JobConfig offloaded(JobConfig c) {
  c.memory.mode = "manual";
  c.memory.n_persist = 1;
  c.memory.n_buffer = 4;
  c.memory.chunk_size = 8 * 1024;
  validate(c);
  return c;
}

struct SessionDeleter {
  void operator()(mart_session* s) const { EXPECT_EQ(mart_session_destroy(s), MART_OK); }
};
using SessionPtr = std::unique_ptr<mart_session, SessionDeleter>;

// A session of `cfg` (as YAML text); fails the test with mart_last_error() when refused.
inline SessionPtr make_session(const JobConfig& cfg, int init_weights = 1) {
  const std::string yaml = to_yaml(cfg);
  mart_session_params p = mart_session_default_params();
  p.config_yaml = yaml.c_str();
  p.init_weights = init_weights;
  mart_session* s = nullptr;
  const mart_status st = mart_session_create(p, &s);
  EXPECT_EQ(st, MART_OK) << mart_last_error();
  return SessionPtr(s);
}

inline mart_session_info info_of(mart_session* s) {
  mart_session_info i{};
  EXPECT_EQ(mart_session_get_info(s, &i), MART_OK) << mart_last_error();
  return i;
}

// One step's training batch (grad_accum micro-batches) from the job's stream.
struct Tokens {
  std::vector<int32_t> inputs, targets;
};
inline Tokens next_batch(mart_session* s, int split, int restart, size_t n_micro_batches) {
  const mart_session_info i = info_of(s);
  Tokens t;
  t.inputs.resize(n_micro_batches * i.micro_batch * i.seq_len);
  t.targets.resize(t.inputs.size());
  EXPECT_EQ(mart_session_next_batch(s, split, restart, t.inputs.data(), t.targets.data(),
                                    t.inputs.size()),
            MART_OK)
      << mart_last_error();
  return t;
}

// One optimizer step on `t` with the job's hyperparameters for the next step.
inline mart_step_result step_on(mart_session* s, const Tokens& t) {
  mart_step_params p{};
  EXPECT_EQ(mart_session_step_params(s, 0, &p), MART_OK) << mart_last_error();
  mart_step_result r{};
  EXPECT_EQ(mart_session_train_step(s, t.inputs.data(), t.targets.data(), t.inputs.size(), p, &r),
            MART_OK)
      << mart_last_error();
  return r;
}

struct Run {
  std::vector<double> losses;
  std::vector<std::pair<int, double>> val;  // (step, val_loss)
};

// `mart train`'s loop through the C API: `steps` steps from the session's current step, each on
// the next grad_accum training micro-batches; validation as the trainer schedules it.
inline Run capi_train(mart_session* s, const JobConfig& cfg, int steps) {
  Run out;
  for (int k = 0; k < steps; ++k) {
    const mart_step_result r = step_on(s, next_batch(s, 0, 0, cfg.train.grad_accum));
    out.losses.push_back(r.loss);
    const int step = static_cast<int>(r.step);
    if (cfg.train.eval_every > 0 && (step % cfg.train.eval_every == 0 || step == cfg.train.steps)) {
      const Tokens v = next_batch(s, 1, 1, cfg.train.eval_batches);
      double loss = 0;
      EXPECT_EQ(mart_session_eval_loss(s, v.inputs.data(), v.targets.data(), v.inputs.size(), &loss),
                MART_OK)
          << mart_last_error();
      out.val.emplace_back(step, loss);
    }
  }
  return out;
}

// The losses `mart train` logged in RUN/metrics.jsonl (nlohmann writes doubles round-trip exact).
inline Run metrics_of(const std::string& run_dir) {
  Run out;
  std::ifstream in(run_dir + "/metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const nlohmann::json m = nlohmann::json::parse(line);
    out.losses.push_back(m.at("loss").get<double>());
    if (m.contains("val_loss")) out.val.emplace_back(m.at("step").get<int>(), m.at("val_loss"));
  }
  return out;
}

// mart::Trainer (what `mart train` runs) on `cfg` into `run_dir`.
inline Run trainer_run(const JobConfig& cfg, const std::string& run_dir, bool resume = false) {
  TrainOptions o;
  o.run_dir = run_dir;
  o.resume = resume;
  o.progress = false;
  o.auto_planner = &auto_plan_for_training;
  Trainer(cfg, o).run();
  return metrics_of(run_dir);
}

inline bool same_bits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}
inline ::testing::AssertionResult same_losses(const std::vector<double>& a,
                                              const std::vector<double>& b) {
  if (a.size() != b.size())
    return ::testing::AssertionFailure() << "lengths " << a.size() << " vs " << b.size();
  for (size_t i = 0; i < a.size(); ++i)
    if (!same_bits(a[i], b[i]))
      return ::testing::AssertionFailure()
             << "entry " << i << ": " << a[i] << " vs " << b[i] << " (difference " << a[i] - b[i]
             << ")";
  return ::testing::AssertionSuccess();
}

}  // namespace mart::capi_test
