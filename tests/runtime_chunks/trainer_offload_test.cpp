// `mart train` with memory.mode = manual on a device capacity of 40% of what the all-resident run
// needs: the run succeeds, its measured device peak stays within the capacity (and equals the
// predicted budget), and its 20 losses, grad norms and final checkpoint (weights and Adam moments,
// byte for byte) are those of the resident run. Also the Trainer's refusals: too little capacity,
// too few buffers, chunks smaller than a glued run.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/units.h"
#include "config/config_validate.h"
#include "runtime/backend.h"
#include "runtime/trainer.h"
#include "tests/common/test_util.h"
#include "tests/runtime_chunks/chunk_test_util.h"

namespace mart::chunks {
namespace {

namespace fs = std::filesystem;

using testutil::read_all;
using testutil::TempDir;

// Six blocks: model states are most of the resident need (activations and scratch of B*T = 32
// tokens are about 0.45 MB), so 40% of it holds the executor's regions, the fewest chunk buffers
// and a few persistent chunks.
JobConfig small_job(ModelFamily f) {
  JobConfig c;
  c.name = std::string("chunks-") + family_tag(f);
  c.model = small_model(f, 6);
  c.train.micro_batch = 2;
  c.train.seq_len = 16;
  c.train.steps = 20;
  c.train.warmup_steps = 2;
  c.train.lr = 1e-2f;
  c.train.grad_clip = 0.05f;  // below the norms: clipping is applied
  c.train.eval_every = 0;
  c.train.log_every = 100;
  validate(c);
  return c;
}

JobConfig manual(JobConfig c, int n_persist, int n_buffer, uint64_t capacity) {
  c.memory.mode = "manual";
  c.memory.n_persist = n_persist;
  c.memory.n_buffer = n_buffer;
  c.memory.chunk_size = kSmallChunkBytes;
  c.memory.device_capacity = capacity;
  validate(c);
  return c;
}

struct TrainRun {
  std::vector<nlohmann::json> metrics;
  TrainSummary summary;
  std::string weights, optimizer;  // final checkpoint files, bytes
};

TrainRun train(const JobConfig& cfg, const std::string& dir) {
  TrainOptions o;
  o.run_dir = dir;
  o.progress = false;
  TrainRun r;
  r.summary = Trainer(cfg, o).run();
  std::ifstream in(dir + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) r.metrics.push_back(nlohmann::json::parse(line));
  std::string latest = read_all(dir + "/checkpoints/latest");
  while (!latest.empty() && (latest.back() == '\n' || latest.back() == ' ')) latest.pop_back();
  r.weights = read_all(dir + "/checkpoints/" + latest + "/model/model.safetensors");
  r.optimizer = read_all(dir + "/checkpoints/" + latest + "/optimizer.safetensors");
  return r;
}

// The device bytes of a configuration, as the Trainer computes them.
uint64_t budget_of(const JobConfig& c) {
  auto dev = make_cpu_device();
  auto ops = make_ops(*dev);
  const ModelSpec spec = build_model_spec(c.model);
  uint64_t states = resident_state_bytes(spec, ops->act_dtype());
  if (c.memory.mode == "manual") {
    const ChunkLayout L = layout_for(spec, c.memory.chunk_size);
    states =
        chunk_state_device_bytes(L, c.memory.n_persist, c.memory.n_buffer, 4, spec.params.size());
  }
  return device_budget(spec, *ops, c.train.micro_batch, c.train.seq_len,
                       std::vector<ActMode>(c.model.n_layer, ActMode::Keep), states)
      .total();
}

void expect_same_run(const TrainRun& got, const TrainRun& ref) {
  ASSERT_EQ(got.metrics.size(), ref.metrics.size());
  for (size_t i = 0; i < ref.metrics.size(); ++i) {
    // JSON numbers round-trip doubles exactly, so == on the parsed values is bitwise.
    EXPECT_EQ(got.metrics[i].at("loss").get<double>(), ref.metrics[i].at("loss").get<double>())
        << "step " << i + 1;
    EXPECT_EQ(got.metrics[i].at("grad_norm").get<double>(),
              ref.metrics[i].at("grad_norm").get<double>())
        << "step " << i + 1;
  }
  EXPECT_FALSE(ref.weights.empty());
  EXPECT_TRUE(got.weights == ref.weights) << "final weights differ";
  EXPECT_TRUE(got.optimizer == ref.optimizer) << "final Adam moments differ";
}

class TrainerOffload : public ::testing::TestWithParam<ModelFamily> {};

TEST_P(TrainerOffload, FortyPercentCapacityTrainsBitwiseLikeResident) {
  TempDir tmp;
  const JobConfig base = small_job(GetParam());
  const uint64_t resident_need = budget_of(base);
  const uint64_t capacity = resident_need * 2 / 5 / 256 * 256;
  const ModelSpec spec = build_model_spec(base.model);
  const ChunkLayout L = layout_for(spec, kSmallChunkBytes);
  const int need = min_chunk_buffers(spec, L, 0);

  // The most persistent chunks that still fit (fewest buffers): there must be some, and not all.
  int np_max = -1;
  for (int np = 0; np < L.n_chunks(); ++np)
    if (budget_of(manual(base, np, need, capacity)) <= capacity) np_max = np;
  ASSERT_GE(np_max, 1) << "capacity " << capacity << " should fit a persistent chunk";

  const TrainRun ref = train(base, tmp.file("resident"));
  EXPECT_EQ(ref.summary.peak_device_bytes, resident_need);
  EXPECT_LT(ref.metrics.back().at("loss").get<double>(),
            ref.metrics.front().at("loss").get<double>());

  struct Combo {
    int np, nb;
  };
  for (Combo c : {Combo{0, need}, Combo{np_max, need}, Combo{0, need + 1}}) {
    SCOPED_TRACE("n_persist " + std::to_string(c.np) + ", n_buffer " + std::to_string(c.nb));
    const JobConfig cfg = manual(base, c.np, c.nb, capacity);
    const uint64_t predicted = budget_of(cfg);
    if (predicted > capacity) continue;  // n_buffer + 1 may not fit next to np_max: not tried
    const TrainRun got =
        train(cfg, tmp.file("manual_" + std::to_string(c.np) + "_" + std::to_string(c.nb)));
    expect_same_run(got, ref);
    EXPECT_LE(got.summary.peak_device_bytes, capacity);
    EXPECT_EQ(got.summary.peak_device_bytes, predicted);
    for (const auto& m : got.metrics)
      EXPECT_LE(m.at("peak_device_bytes").get<uint64_t>(), capacity);
    const auto summary = nlohmann::json::parse(read_all(got.summary.summary_path));
    EXPECT_EQ(summary.at("plan").at("memory_mode"), "manual");
    EXPECT_EQ(summary.at("plan").at("device_budget_bytes").get<uint64_t>(), predicted);
    EXPECT_EQ(summary.at("plan").at("pinned_host_bytes").get<uint64_t>(),
              chunk_state_host_bytes(L, c.np, 4));
  }
}

// Clipping off (offloaded chunks are updated by the CPU during backward) with 2 micro-batches.
TEST_P(TrainerOffload, NoClipWithAccumulationTrainsBitwiseLikeResident) {
  TempDir tmp;
  JobConfig base = small_job(GetParam());
  base.train.grad_clip = 0;
  base.train.grad_accum = 2;
  validate(base);
  const uint64_t capacity = budget_of(base) * 2 / 5 / 256 * 256;
  const ModelSpec spec = build_model_spec(base.model);
  const int need = min_chunk_buffers(spec, layout_for(spec, kSmallChunkBytes), 0);
  const JobConfig cfg = manual(base, 0, need, capacity);
  ASSERT_LE(budget_of(cfg), capacity);
  const TrainRun ref = train(base, tmp.file("resident"));
  const TrainRun got = train(cfg, tmp.file("manual"));
  expect_same_run(got, ref);
  EXPECT_LE(got.summary.peak_device_bytes, capacity);
}

TEST_P(TrainerOffload, RefusesWhatDoesNotFit) {
  TempDir tmp;
  const JobConfig base = small_job(GetParam());
  const uint64_t capacity = budget_of(base) * 2 / 5 / 256 * 256;
  TrainOptions o;
  o.run_dir = tmp.file("run");
  o.progress = false;

  // All resident, or every chunk persistent: the states alone exceed 40%.
  JobConfig resident = base;
  resident.memory.device_capacity = capacity;
  for (const JobConfig& c : {resident, manual(base, -1, 2, capacity)}) {
    const std::string msg = error_of([&] { Trainer(c, o); });
    EXPECT_TRUE(has(msg, "does not fit in device memory"));
    EXPECT_TRUE(has(msg, "needs " + format_bytes(budget_of(c))));
    EXPECT_TRUE(has(msg, "capacity is " + format_bytes(capacity)));
    EXPECT_TRUE(has(msg, "memory.mode: manual"));
  }

  // Fewer buffers than one group's chunks: the message names the count needed.
  const ModelSpec spec = build_model_spec(base.model);
  const ChunkLayout L = layout_for(spec, kSmallChunkBytes);
  const int need = min_chunk_buffers(spec, L, 0);
  ASSERT_GE(need, 2);
  const std::string few = error_of([&] { Trainer(manual(base, 0, need - 1, 0), o); });
  EXPECT_TRUE(has(few, "memory.n_buffer = " + std::to_string(need - 1) + " is too small"));
  EXPECT_TRUE(has(few, "memory.n_buffer >= " + std::to_string(need)));

  // Chunks that hold every single tensor but not the largest glued run (Llama's gate|up) or, for
  // GPT-2 (no glue), not its largest tensor (c_fc).
  uint64_t largest_run = 0, largest_tensor = 0, run = 0;
  for (const ParamInfo& p : spec.params) {
    run += p.numel;
    largest_tensor = std::max(largest_tensor, p.numel);
    largest_run = std::max(largest_run, run);
    if (!p.glued_to_next) run = 0;
  }
  JobConfig small_chunks = manual(base, 0, need, 0);
  small_chunks.memory.chunk_size = (largest_run - 128) * 4;
  if (GetParam() == ModelFamily::Llama) {
    ASSERT_GT(largest_run, largest_tensor);
    small_chunks.memory.chunk_size = std::max(largest_tensor, largest_run * 3 / 4) * 4;
  }
  const std::string chunk_msg = error_of([&] { Trainer(small_chunks, o); });
  EXPECT_TRUE(has(chunk_msg, "(" + std::to_string(largest_run) + " elements)"));
  EXPECT_TRUE(has(chunk_msg, std::to_string(small_chunks.memory.chunk_size / 4) + " elements"));
  EXPECT_TRUE(has(chunk_msg, "memory.chunk_size"));
}

INSTANTIATE_TEST_SUITE_P(Families, TrainerOffload,
                         ::testing::Values(ModelFamily::Llama, ModelFamily::GPT2),
                         [](const auto& i) { return std::string(family_tag(i.param)); });

}  // namespace
}  // namespace mart::chunks
