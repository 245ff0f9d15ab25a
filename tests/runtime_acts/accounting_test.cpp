// Activation memory is exact for every mode: what the manager allocates (arena tags, pinned host
// blocks) equals its own accounting, equals the pure formula (layout/
// activation_memory.h) and device_budget(); the arena's peak over a train step and an evaluation is
// device_budget().total() to the byte; and the peak falls by exactly the expected amount as blocks
// move from keep to checkpoint, swap or compress.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "config/config_loader.h"
#include "runtime/model/transformer.h"
#include "runtime/trainer.h"
#include "tests/runtime_acts/acts_util.h"

namespace mart::acts_test {
namespace {

class Accounting : public ::testing::TestWithParam<ModelFamily> {};

struct Measured {
  uint64_t peak = 0, total = 0, acts = 0, host = 0;
};

Measured measure(const ModelConfig& m, const Modes& modes) {
  const int B = 2, T = 32;
  Rig rig(m, B, T, modes);
  const auto& acts = rig.acts();
  const auto& st = acts.stats();
  const size_t asz = dtype_size(rig.ops->act_dtype());
  const ActBody body = executor_layout(rig.spec, *rig.ops, B, T).body;
  EXPECT_EQ(acts.body_bytes(), block_body_bytes(rig.spec, B, T, asz));
  const ActMemory f = activation_memory(modes, body);
  // Manager == formula == budget.
  EXPECT_EQ(st.device_bytes, f.device_bytes);
  EXPECT_EQ(st.device_bytes, rig.budget.activations);
  EXPECT_EQ(st.host_bytes, f.host_bytes);
  for (size_t b = 0; b < modes.size(); ++b) {
    EXPECT_EQ(st.saved_device_bytes[b], f.block_device_bytes[b]) << "block " << b;
    EXPECT_EQ(st.blocks[b].host_bytes, f.block_host_bytes[b]) << "block " << b;
    EXPECT_EQ(st.blocks[b].transient_bytes, f.block_transient_bytes[b]) << "block " << b;
  }

  // A train step (2 micro-batches) and an evaluation allocate nothing beyond the static layout.
  Batches data(B, T);
  rig.exec->train_step({data.next(), data.next()}, hyper(1));
  rig.exec->eval_loss(data.next());
  const ArenaStats& a = rig.arena->stats();
  EXPECT_EQ(a.peak_in_use, rig.budget.total());
  EXPECT_EQ(a.high_water, rig.budget.total());
  // Measured per tag == the manager's accounting.
  EXPECT_EQ(tag_bytes(a, "act_keep"), f.keep_bytes);
  EXPECT_EQ(tag_bytes(a, "act_recompute"), f.scratch_bytes);
  EXPECT_EQ(tag_bytes(a, "act_swap_stage"), f.swap_stage_bytes);
  EXPECT_EQ(tag_bytes(a, "act_compress"), f.compress_bytes);
  EXPECT_EQ(tag_bytes(a, "act_codec"), f.codec_bytes);
  EXPECT_EQ(tag_bytes(a, "act_cswap_stage"), f.cswap_stage_bytes);
  const uint64_t measured = tag_bytes(a, "act_keep") + tag_bytes(a, "act_recompute") +
                            tag_bytes(a, "act_swap_stage") + tag_bytes(a, "act_compress") +
                            tag_bytes(a, "act_codec") + tag_bytes(a, "act_cswap_stage");
  EXPECT_EQ(measured, st.device_bytes);
  // Pinned host: exactly the swapped bodies and compressed regions that leave their slots.
  // (The Session builds a host allocator only when a block swaps.)
  EXPECT_EQ(rig.host ? rig.host->stats().total.in_use : 0, st.host_bytes);
  rig.arena->check_invariants();
  if (rig.host) rig.host->check_invariants();
  return {a.peak_in_use, rig.budget.total(), measured, st.host_bytes};
}

TEST_P(Accounting, EveryModeMixIsExactAndThePeakFallsAsExpected) {
  const ModelConfig m = tiny_model(GetParam(), 6, 32);
  const int B = 2, T = 32;
  const ModelSpec spec = build_model_spec(m);
  auto ops = make_cpu_ops();
  const ActBody body = executor_layout(spec, *ops, B, T).body;
  const int64_t rb = static_cast<int64_t>(arena_round(body.bytes()));
  const int64_t region = static_cast<int64_t>(compress_region_bytes(body, {}));
  const int64_t codec = static_cast<int64_t>(codec_scratch_layout(body, {}).bytes);
  ASSERT_LT(region, rb) << "a compressed block must own less than a kept one";

  const Measured keep = measure(m, {K, K, K, K, K, K});
  EXPECT_EQ(static_cast<int64_t>(keep.acts), 6 * rb);
  struct Case {
    Modes modes;
    int64_t saving;  // keep peak - this peak
  };
  const std::vector<Case> cases = {
      {{C, K, K, K, K, K}, 0},                // one body out, one scratch in
      {{C, C, C, K, K, K}, 2 * rb},           // n checkpoints: n - 1 bodies
      {{S, S, K, K, K, K}, 0},                // two swaps fill the two staging slots
      {{S, S, S, S, K, K}, 2 * rb},           // more swaps: one body each
      {{S, S, S, S, S, S}, 4 * rb},           //
      {{Z, K, K, K, K, K}, -region - codec},  // region + scratch + codec: a loss
      {{Z, Z, Z, Z, Z, Z}, 6 * (rb - region) - rb - codec},
      {{S, S, C, Z, C, K}, 5 * rb - rb - 2 * rb - region - codec},  // shared scratch
      // compress_swap: scratch + codec + two region-sized staging slots, nothing per block.
      {{W, W, K, K, K, K}, 2 * rb - rb - codec - 2 * region},
      {{W, W, W, W, W, W}, 6 * rb - rb - codec - 2 * region},
      {{S, S, W, W, Z, C}, 6 * rb - 2 * rb - rb - codec - 2 * region - region},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(modes_str(c.modes));
    const Measured got = measure(m, c.modes);
    EXPECT_EQ(static_cast<int64_t>(keep.peak) - static_cast<int64_t>(got.peak), c.saving);
  }
  // The big moves do lower the peak.
  EXPECT_LT(measure(m, {S, S, S, S, S, S}).peak, keep.peak);
  EXPECT_LT(measure(m, {Z, Z, Z, Z, Z, Z}).peak, keep.peak);
  // compress_swap holds less on the device than compress once it has more than two blocks.
  EXPECT_LT(measure(m, {W, W, W, W, W, W}).peak, measure(m, {Z, Z, Z, Z, Z, Z}).peak);
  // ...and pinned host: one region per block beyond the two staging slots.
  EXPECT_EQ(measure(m, {W, W, W, W, W, W}).host, 4 * compress_swap_host_bytes(body, {}));
  EXPECT_LT(measure(m, {C, C, C, C, C, C}).peak, keep.peak);
}

// The Trainer reports the exact peak for swap and compress layouts too, and the pinned host bytes.
TEST_P(Accounting, TrainerPeakEqualsBudget) {
  TempDir tmp("trainer");
  JobConfig c;
  c.model = tiny_model(GetParam(), 4);
  c.train.micro_batch = 2;
  c.train.seq_len = 16;
  c.train.steps = 2;
  c.train.warmup_steps = 1;
  c.train.eval_every = 0;
  c.activations.modes = {"swap", "swap", "swap", "compress"};
  if (GetParam() == ModelFamily::GPT2) {
    // The compress_swap lane and a non-default payload budget, through the config.
    c.activations.modes = {"compress_swap", "compress_swap", "compress_swap", "swap"};
    c.activations.payload_fraction = 0.375f;
  }
  validate(c);
  TrainOptions o;
  o.run_dir = tmp.file("run");
  o.progress = false;
  TrainSummary s = Trainer(c, o).run();
  const ModelSpec spec = build_model_spec(c.model);
  auto ops = make_cpu_ops();
  const Modes modes = parse_act_modes(c.activations.modes);
  const CompressBudget cb{c.activations.payload_fraction, 0};
  DeviceBudget b =
      device_budget(spec, *ops, 2, 16, modes, resident_state_bytes(spec, ops->act_dtype()), cb);
  EXPECT_EQ(s.peak_device_bytes, b.total());
  const ActBody body = executor_layout(spec, *ops, 2, 16).body;
  // One of the three swapped bodies (or compressed regions) leaves its staging slot.
  const nlohmann::json sum = nlohmann::json::parse(std::ifstream(s.summary_path));
  const bool cswap = GetParam() == ModelFamily::GPT2;
  EXPECT_EQ(sum.at("plan").at("pinned_host_bytes").get<uint64_t>(),
            cswap ? compress_swap_host_bytes(body, cb) : body.bytes());
  // What the manager did is reported: copies of the encodings for compress_swap.
  const nlohmann::json& acts = sum.at("activations");
  EXPECT_EQ(acts.at("body_bytes").get<uint64_t>(), body.bytes());
  EXPECT_EQ(acts.at("compressed_blocks").size(), cswap ? 3u : 1u);
  if (cswap) {
    EXPECT_GT(acts.at("compress_swap_out_bytes").get<uint64_t>(), 0u);
    EXPECT_EQ(acts.at("compress_swap_out_bytes"), acts.at("compress_swap_in_bytes"));
    EXPECT_EQ(acts.at("compressed_blocks")[0].at("mode"), "compress_swap");
  }
}

INSTANTIATE_TEST_SUITE_P(Families, Accounting,
                         ::testing::Values(ModelFamily::Llama, ModelFamily::GPT2),
                         family_param_name);

}  // namespace
}  // namespace mart::acts_test
