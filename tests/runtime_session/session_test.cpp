// The Session (runtime/session.h): it trains exactly as the Trainer does, plans that differ only
// in where memory lives give bitwise-identical losses, construction errors name the problem and
// give every byte back, the auto planner is the one passed in, and separate Sessions run on
// separate threads at once.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "device/device.h"
#include "kernels/ops.h"
#include "layout/chunk_layout.h"
#include "memory/device_arena.h"
#include "runtime/backend.h"
#include "runtime/data/data_loader.h"
#include "runtime/data/markov_corpus.h"
#include "runtime/lr_schedule.h"
#include "runtime/trainer.h"
#include "tests/runtime_session/session_util.h"

namespace mart::session_test {
namespace {

bool same_bits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

::testing::AssertionResult same_curve(const Curve& a, const Curve& b) {
  if (a.losses.size() != b.losses.size()) return ::testing::AssertionFailure() << "lengths differ";
  for (size_t i = 0; i < a.losses.size(); ++i)
    if (!same_bits(a.losses[i], b.losses[i]) || a.norms[i] != b.norms[i])
      return ::testing::AssertionFailure()
             << "step " << i + 1 << ": loss " << a.losses[i] << " vs " << b.losses[i];
  return ::testing::AssertionSuccess();
}

// The Trainer's step loop on the same data and schedule, driven through the Session by hand.
std::vector<double> session_losses(const JobConfig& cfg, uint64_t init_seed) {
  Session s(cfg);
  s.init_weights(init_seed);
  MarkovSpec ms;
  ms.vocab = cfg.data.synthetic_vocab;
  ms.order = cfg.data.synthetic_order;
  ms.branching = cfg.data.synthetic_branching;
  ms.seed = cfg.data.synthetic_seed;
  LoaderOptions lo;
  lo.batch_size = cfg.train.micro_batch;
  lo.seq_len = cfg.train.seq_len;
  lo.vocab_size = static_cast<uint32_t>(cfg.model.vocab_size);
  lo.order = parse_data_order(cfg.data.order, "data.order");  // the trainer's training order
  lo.seed = cfg.train.seed;
  DataLoader data = DataLoader::from_markov(std::make_shared<MarkovSource>(ms), cfg.train.seed, lo);
  std::vector<double> losses;
  for (int step = 0; step < cfg.train.steps; ++step) {
    std::vector<MicroBatch> mbs(cfg.train.grad_accum);
    for (auto& mb : mbs) {
      mb.inputs.resize(static_cast<size_t>(lo.batch_size) * lo.seq_len);
      mb.targets.resize(mb.inputs.size());
      data.next(mb.inputs, mb.targets);
    }
    StepHyper h;
    h.lr = lr_at(cfg.train, step);
    h.beta1 = cfg.train.beta1;
    h.beta2 = cfg.train.beta2;
    h.eps = cfg.train.eps;
    h.weight_decay = cfg.train.weight_decay;
    h.grad_clip = cfg.train.grad_clip;
    h.step = step + 1;
    losses.push_back(s.train_step(mbs, h).loss);
  }
  return losses;
}

TEST(Session, DefaultJobTrainsBitwiseAsTheTrainer) {
  JobConfig cfg;  // the default job
  cfg.train.steps = 3;
  cfg.train.warmup_steps = 1;
  cfg.train.eval_every = 0;
  testutil::TempDir tmp;
  TrainOptions o;
  o.run_dir = (tmp.path() / "run").string();
  o.progress = false;
  Trainer(cfg, o).run();
  std::ifstream in(o.run_dir + "/metrics.jsonl");
  std::vector<double> trainer;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) trainer.push_back(nlohmann::json::parse(line).at("loss").get<double>());
  ASSERT_EQ(trainer.size(), 3u);

  const std::vector<double> got = session_losses(cfg, cfg.train.seed);
  ASSERT_EQ(got.size(), trainer.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_TRUE(same_bits(got[i], trainer[i]))
        << "step " << i + 1 << ": " << got[i] << " vs " << trainer[i];
  // Negative control: other initial weights give other losses, so the comparison can fail.
  const std::vector<double> other = session_losses(cfg, cfg.train.seed + 1);
  EXPECT_FALSE(same_bits(other[0], trainer[0]));
}

// Offloading every chunk, swapping or recomputing activations moves memory, not arithmetic.
TEST(Session, ResidentAndOffloadedPlansGiveIdenticalLosses) {
  const JobConfig base = small_job();
  Session resident(base);
  resident.init_weights(7);
  const Curve ref = train_curve(resident, 3);
  EXPECT_FALSE(resident.chunked());
  EXPECT_EQ(resident.host(), nullptr);  // nothing offloaded or swapped: no pinned memory
  EXPECT_EQ(resident.cpu_adam(), nullptr);

  JobConfig off = base;
  off.memory.mode = "manual";
  off.memory.n_persist = 0;
  off.memory.n_buffer = 4;
  off.memory.chunk_size = 64 << 10;
  off.activations.modes = {"swap", "checkpoint"};
  SessionOptions so;
  so.host.pin = PinMode::kOff;  // tests need no locked memory
  Session offloaded(off, so);
  offloaded.init_weights(7);
  EXPECT_TRUE(offloaded.chunked());
  ASSERT_NE(offloaded.host(), nullptr);
  EXPECT_NE(offloaded.cpu_adam(), nullptr);
  EXPECT_GT(offloaded.pinned_host_bytes(), 0u);
  EXPECT_LT(offloaded.device_budget_bytes(), resident.device_budget_bytes());
  EXPECT_TRUE(same_curve(train_curve(offloaded, 3), ref));
  EXPECT_EQ(offloaded.arena().stats().peak_in_use, offloaded.device_budget_bytes());

  // Negative control: compression is lossy, so its losses differ.
  JobConfig lossy = base;
  lossy.activations.modes = {"compress", "compress"};
  lossy.activations.eb = 1e-2f;
  Session compressed(lossy);
  compressed.init_weights(7);
  EXPECT_FALSE(same_curve(train_curve(compressed, 3), ref));
}

TEST(Session, TooLittleCapacityIsAClearError) {
  JobConfig c = small_job();
  c.memory.device_capacity = 64 << 10;
  const std::string msg = error_of([&] { Session s(c); });
  EXPECT_TRUE(has(msg, "does not fit in device memory")) << msg;
  EXPECT_TRUE(has(msg, "capacity is 64.00 KiB")) << msg;
  EXPECT_TRUE(has(msg, "memory.mode: manual or auto")) << msg;
}

TEST(Session, BadConfigIsAClearError) {
  JobConfig c = small_job();
  c.train.seq_len = 64;  // beyond model.max_seq_len = 32
  const std::string msg = error_of([&] { Session s(c); });
  EXPECT_TRUE(has(msg, "train.seq_len = 64 exceeds model.max_seq_len = 32")) << msg;
}

// A failure after the arena and the model states exist (the executor's activation manager refuses
// the bound) gives every device byte back.
TEST(Session, FailedConstructionGivesEveryByteBack) {
  CountingDevice dev;
  auto ops = make_ops(dev);
  JobConfig c = small_job();
  c.activations.modes = {"compress", "keep"};
  SessionOptions so;
  so.device = &dev;
  so.ops = ops.get();
  bool states_built = false;
  so.wrap_states = [&](std::unique_ptr<ModelStates> s) {
    states_built = true;
    return s;
  };
  ActivationOptions bad;
  bad.eb = -1;
  so.activations = bad;
  const std::string msg = error_of([&] { Session s(c, so); });
  EXPECT_TRUE(has(msg, "activations.eb")) << msg;
  EXPECT_TRUE(states_built);
  EXPECT_EQ(dev.outstanding(), 0u);

  // Negative control: a live Session holds its arena; destroyed, it gives it back.
  so.activations.reset();
  {
    Session s(c, so);
    EXPECT_EQ(dev.outstanding(), s.arena().capacity());
    EXPECT_GT(dev.outstanding(), 0u);
  }
  EXPECT_EQ(dev.outstanding(), 0u);
}

TEST(Session, DeviceAndOpsAreBorrowedTogether) {
  auto dev = make_cpu_device();
  SessionOptions so;
  so.device = dev.get();
  const std::string msg = error_of([&] { Session s(small_job(), so); });
  EXPECT_TRUE(has(msg, "pass both a device and its ops")) << msg;
}

// The measured profile's use: model states only, room for the caller's own regions.
TEST(Session, WithoutAnExecutor) {
  SessionOptions so;
  so.executor = false;
  so.arena_headroom = 1 << 20;
  Session s(small_job(), so);
  EXPECT_EQ(s.arena().capacity(), s.budget().model_states + (1u << 20));
  EXPECT_EQ(s.budget().total(), s.budget().model_states);
  const std::string msg = error_of([&] { s.executor(); });
  EXPECT_TRUE(has(msg, "built without an executor")) << msg;
  EXPECT_NO_THROW(s.arena().alloc(1 << 20, "caller_region"));
}

TEST(Session, AutoModeUsesThePlannerPassedIn) {
  JobConfig c = small_job();
  c.memory.mode = "auto";
  int calls = 0;
  Device* seen = nullptr;
  SessionOptions so;
  so.host.pin = PinMode::kOff;
  so.auto_planner = [&](JobConfig& cfg, Device& dev, Ops&) {
    ++calls;
    seen = &dev;
    cfg.memory.mode = "manual";
    cfg.memory.n_persist = 1;
    cfg.memory.n_buffer = 4;
    cfg.memory.chunk_size = 64 << 10;
    return nlohmann::json{{"note", "planned by the test"}};
  };
  Session s(c, so);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen, &s.device());
  EXPECT_EQ(s.config().memory.mode, "manual");
  EXPECT_EQ(s.config().memory.n_persist, 1);
  EXPECT_TRUE(s.chunked());
  EXPECT_EQ(s.planner().at("note"), "planned by the test");

  // Negative control: another mode never calls it, and no planner object comes back.
  Session r(small_job(), so);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(r.planner().is_null());
}

TEST(Session, AutoModeWithoutAPlannerIsAClearError) {
  JobConfig c = small_job();
  c.memory.mode = "auto";
  const std::string msg = error_of([&] { Session s(c); });
  EXPECT_TRUE(has(msg, "memory.mode auto needs a planner")) << msg;
  EXPECT_TRUE(has(msg, "SessionOptions::auto_planner")) << msg;
}

// Relative closeness of two curves' losses (concurrent Sessions on the CPU backend are correct
// but not bitwise reproducible: see runtime/session.h, Threads).
::testing::AssertionResult close_curve(const Curve& a, const Curve& b, double rel) {
  if (a.losses.size() != b.losses.size()) return ::testing::AssertionFailure() << "lengths differ";
  for (size_t i = 0; i < a.losses.size(); ++i)
    if (!(std::abs(a.losses[i] - b.losses[i]) <= rel * std::abs(b.losses[i])))
      return ::testing::AssertionFailure()
             << "step " << i + 1 << ": loss " << a.losses[i] << " vs " << b.losses[i];
  return ::testing::AssertionSuccess();
}

// Separate Sessions share no objects: two trained at once on two threads each give what they give
// alone, up to the last digits (the CPU backend's process-wide OpenBLAS thread count is shared).
TEST(Session, SeparateSessionsOnSeparateThreads) {
  JobConfig a = small_job(), b = small_job();
  b.activations.modes = {"checkpoint", "keep"};
  auto alone = [](const JobConfig& c, uint64_t seed) {
    Session s(c);
    s.init_weights(seed);
    return train_curve(s, 3);
  };
  const Curve ref_a = alone(a, 1), ref_b = alone(b, 2);
  Curve got_a, got_b;
  std::thread ta([&] { got_a = alone(a, 1); });
  std::thread tb([&] { got_b = alone(b, 2); });
  ta.join();
  tb.join();
  EXPECT_TRUE(close_curve(got_a, ref_a, 1e-6));
  EXPECT_TRUE(close_curve(got_b, ref_b, 1e-6));
  EXPECT_FALSE(close_curve(got_a, got_b, 1e-6));  // negative control: other weights differ
}

}  // namespace
}  // namespace mart::session_test
