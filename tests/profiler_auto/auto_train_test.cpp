// memory.mode: auto on the CPU backend, end to end: the trainer profiles the job on this machine,
// plans within a device capacity below what the job needs resident, trains under the plan, and
// the plan's predictions hold: the arena's measured peak equals the predicted peak exactly, and
// the measured median step time is within 15% of the predicted one.
//
// Robust on two busy cores: compute runs single-threaded here (OpenMP barriers under CPU
// contention cost a scheduler quantum each and dominate small kernels, which no profile can
// predict), the model is sized for steps of ~0.2-1 s, the profile is measured in this process right
// before training (same threads, same load), and the step time is the median over the steps.
#include <gtest/gtest.h>
#include <unistd.h>

#include <omp.h>
#include <sys/resource.h>
#include <cstdio>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "config/config_loader.h"
#include "memory/chunk_manager.h"
#include "planner/hardware.h"
#include "profiler/analytic_profile.h"
#include "profiler/auto_plan.h"
#include "profiler/plan_job.h"
#include "runtime/backend.h"
#include "runtime/memory_budget.h"
#include "runtime/model/model_states.h"
#include "runtime/trainer.h"
#include "tests/common/mode_counts.h"

namespace mart {
namespace {

const char* kJob = R"(
name: auto-cpu
backend: cpu
model:
  family: llama
  n_layer: 4
  d_model: 256
  n_head: 8
  n_kv_head: 4
  d_ff: 768
  vocab_size: 256
  max_seq_len: 128
train:
  micro_batch: 4
  seq_len: 128
  steps: 16
  warmup_steps: 2
  eval_every: 0
memory:
  mode: auto
)";

// Device bytes the job needs with every state resident and every block kept.
uint64_t resident_need(const JobConfig& cfg) {
  auto ops = make_cpu_ops();
  const ModelSpec spec = build_model_spec(cfg.model);
  const std::vector<ActMode> keep(cfg.model.n_layer, ActMode::Keep);
  return device_budget(spec, *ops, cfg.train.micro_batch, cfg.train.seq_len, keep,
                       resident_state_bytes(spec, ops->act_dtype()))
      .total();
}

struct Attempt {
  double predicted_s = 0, measured_s = 0;
  std::string plan;
};

// One profile + plan + training run; checks everything but the step time, which it returns.
Attempt run_once(const std::string& run_dir) {
  JobConfig cfg = job_config_from_yaml_string(kJob, "auto-cpu");
  const uint64_t need = resident_need(cfg);
  cfg.memory.device_capacity = need * 6 / 10 / 256 * 256;
  TrainOptions opt;
  opt.run_dir = run_dir;
  std::filesystem::remove_all(opt.run_dir);
  opt.progress = false;
  opt.auto_planner = &auto_plan_for_training;
  const TrainSummary s = Trainer(cfg, opt).run();

  std::ifstream f(s.summary_path);
  const nlohmann::json j = nlohmann::json::parse(f);
  EXPECT_TRUE(j.contains("planner"));
  const nlohmann::json& p = j["planner"];
  EXPECT_EQ(p["fits"], true);
  // The arena's measured peak is the predicted peak, to the byte.
  EXPECT_EQ(p["predicted"]["peak_device_bytes"].get<uint64_t>(), s.peak_device_bytes);
  EXPECT_EQ(p["measured"]["peak_device_bytes"].get<uint64_t>(), s.peak_device_bytes);
  EXPECT_LE(s.peak_device_bytes, cfg.memory.device_capacity);
  EXPECT_LT(s.peak_device_bytes, need);
  // Below the resident need, the plan must give something up: offload or activations.
  const auto& plan = p["plan"];
  EXPECT_TRUE(plan["n_persist"].get<int>() < plan["n_chunks"].get<int>() ||
              plan["n_checkpoint"].get<int>() + plan["n_swap"].get<int>() > 0)
      << plan.dump();
  // The run directory's config is the plan, so a resume trains under the same plan.
  const JobConfig saved = load_job_config(opt.run_dir + "/config.yaml");
  EXPECT_EQ(saved.memory.mode, "manual");
  EXPECT_EQ(saved.memory.n_persist, plan["n_persist"].get<int>());
  Attempt a;
  a.predicted_s = p["predicted"]["iteration_s"].get<double>();
  a.measured_s = p["measured"]["iteration_s"].get<double>();
  a.plan = plan.dump();
  return a;
}

// On a machine shared with other jobs the CPU share this process gets can change several-fold
// within seconds (docs/PLANNER.md, "Predicted vs measured"), between the profile and the steps.
// So the time check allows up to three attempts (profile, plan and train again) and passes when
// one lands within 15%; every attempt is printed. The memory checks hold in every attempt.
TEST(AutoTrain, CpuPredictionsHold) {
  omp_set_num_threads(1);
  // A larger CPU share for this thread (and the threads it creates from here on) against other
  // tests in the same session. Without the privilege this is a no-op.
  const bool reniced = setpriority(PRIO_PROCESS, 0, -15) == 0;
  double best = 1e9;
  for (int attempt = 1; attempt <= 3 && best >= 0.15; ++attempt) {
    const Attempt a =
        run_once(std::string(::testing::TempDir()) + "/auto_cpu_run" + std::to_string(attempt));
    const double err = (a.measured_s - a.predicted_s) / a.predicted_s;
    std::printf("attempt %d: plan %s\n  predicted step %.4f s, measured %.4f s (%+.1f%%)%s\n",
                attempt, a.plan.c_str(), a.predicted_s, a.measured_s, 100 * err,
                reniced ? "" : " (normal priority)");
    best = std::min(best, std::abs(err));
  }
  // Time can only be judged when this test had the CPUs to itself: with more runnable work than
  // CPUs (e.g. a parallel build), the step time measures the neighbours, not the model. Then the
  // timing verdict is skipped, saying so; the exact-memory checks above have already run.
  double load1 = 0;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load1) != 1) load1 = 0;
    std::fclose(f);
  }
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (best >= 0.15 && load1 > static_cast<double>(cpus))
    GTEST_SKIP() << "machine busy (load average " << load1 << " on " << cpus
                 << " CPUs): best time error " << 100 * best
                 << "% is not a verdict on the cost model";
  EXPECT_LT(best, 0.15);
}

// Manual plans with every activation mode, compress_swap included, run by the trainer: the
// planner's predicted device peak (predict_memory with the job's cost options, so the job's
// payload_fraction) is the arena's measured peak to the byte, and the plan applied to the config
// (apply_plan) is the plan the trainer runs (its block modes).
TEST(AutoTrain, PredictedPeakIsTheTrainersPeakForEveryActivationMode) {
  struct Case {
    int np_from_end, s, c, z, w;
    float payload;
  };
  // 6 blocks: w x6 (four encodings copied); s s s w w w (both lanes copy one block each);
  // w w w c z k with a larger budget; w w c k k k with every chunk persistent.
  const Case cases[] = {
      {1, 0, 0, 0, 6, 0.5f}, {2, 3, 0, 0, 3, 0.5f}, {1, 0, 1, 1, 3, 0.75f}, {0, 0, 1, 0, 2, 0.4f}};
  int k = 0;
  for (const Case& cs : cases) {
    SCOPED_TRACE("case " + std::to_string(k));
    JobConfig cfg = job_config_from_yaml_string(kJob, "auto-cpu");
    cfg.model.n_layer = 6;
    cfg.train.steps = 2;
    cfg.train.warmup_steps = 1;
    cfg.memory.mode = "manual";
    cfg.activations.payload_fraction = cs.payload;
    const Profile p = analytic_profile(cfg, builtin_hardware("cpu"));
    ASSERT_TRUE(p.supports("compress_swap"));
    const SearchOptions so = job_search_options(cfg, p, 0, 0, false);
    EXPECT_FLOAT_EQ(so.cost.compress.payload_fraction, cs.payload);
    const uint64_t e = chunk_size_grid(p.model).front();
    const ModelChunks mc = model_chunks(p.model, e);
    ASSERT_GE(mc.n_chunks(), 3);
    PlanChoice plan{cfg.train.micro_batch,          1, e,
                    mc.n_chunks() - cs.np_from_end, 0, test::mode_counts(cs.s, cs.c, cs.z)};
    plan.blocks[ActMode::CompressSwap] = cs.w;
    if (plan.n_persist < mc.n_chunks())
      plan.n_buffer = std::max(1, min_buffers(p.model, mc, plan.n_persist)) + 1;
    const PlanCandidate pc = evaluate_plan(p, plan, so.cost);
    apply_plan(cfg, p, pc);
    EXPECT_EQ(cfg.activations.counts[ActMode::CompressSwap], cs.w);
    TrainOptions opt;
    opt.run_dir = std::string(::testing::TempDir()) + "/cswap_plan" + std::to_string(k++);
    std::filesystem::remove_all(opt.run_dir);
    opt.progress = false;
    opt.auto_planner = &auto_plan_for_training;
    const TrainSummary s = Trainer(cfg, opt).run();
    EXPECT_EQ(s.peak_device_bytes, pc.memory.device);
    EXPECT_TRUE(std::isfinite(s.final_loss));
    std::ifstream f(s.summary_path);
    const nlohmann::json j = nlohmann::json::parse(f);
    EXPECT_EQ(j["plan"]["block_modes"].get<std::vector<std::string>>(), plan_block_modes(p, plan));
    EXPECT_EQ(j["plan"]["device_budget_bytes"].get<uint64_t>(), pc.memory.device);
    // Pinned host: offloaded chunks + swapped bodies + compress_swap encodings (at the budget).
    EXPECT_EQ(j["plan"]["pinned_host_bytes"].get<uint64_t>(), pc.memory.pinned_host);
    std::printf("pinned: summary %llu, predicted chunks %llu + activations %llu\n",
                static_cast<unsigned long long>(j["plan"]["pinned_host_bytes"].get<uint64_t>()),
                static_cast<unsigned long long>(pc.memory.chunk_host),
                static_cast<unsigned long long>(pc.memory.swap_host));
    if (cs.w > kSwapStages) {
      EXPECT_GT(pc.memory.swap_host, 0u);
    }
    // Copies: swap's are exact; compress_swap's are priced at the budget, an upper bound on the
    // bytes the encodings filled (no fallback at these budgets: every encoding was copied).
    const nlohmann::json& acts = j["activations"];
    const uint64_t steps = static_cast<uint64_t>(cfg.train.steps);
    const uint64_t body = acts["body_bytes"].get<uint64_t>();
    const uint64_t raw = 2 * static_cast<uint64_t>(cs.s - std::min(cs.s, kSwapStages)) * body;
    const uint64_t cswap = acts["compress_swap_out_bytes"].get<uint64_t>() +
                           acts["compress_swap_in_bytes"].get<uint64_t>();
    EXPECT_EQ(acts["swap_out_bytes"].get<uint64_t>() + acts["swap_in_bytes"].get<uint64_t>(),
              raw * steps);
    EXPECT_LE(cswap, (pc.time.swap_bytes - raw) * steps);
    if (cs.w > kSwapStages) {
      EXPECT_GT(cswap, 0u);
    }
    std::printf("compress_swap copies: %llu bytes measured, %llu predicted (the budget)\n",
                static_cast<unsigned long long>(cswap),
                static_cast<unsigned long long>((pc.time.swap_bytes - raw) * steps));
    std::printf(
        "plan %s: predicted peak %llu, measured %llu; step (analytic cpu preset, not "
        "checked here) predicted %.3f s, measured %.3f s\n",
        j["plan"]["block_modes"].dump().c_str(), static_cast<unsigned long long>(pc.memory.device),
        static_cast<unsigned long long>(s.peak_device_bytes), pc.time.iteration_s, s.median_step_s);
  }
}

}  // namespace
}  // namespace mart
