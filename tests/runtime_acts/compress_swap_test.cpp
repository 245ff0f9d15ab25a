// compress_swap: compress, then swap the encoding. It stores what compress stores, only on the
// host, so compress_swap and compress layouts give bitwise-identical losses, gradients and weights
// (and swap/compress_swap mixes equal keep/compress mixes); every decoded value is within its
// bound; only the bytes an encoding fills are copied, exactly, and all of them come back; an
// encoding over budget copies nothing and the block is recomputed exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "tests/runtime_acts/acts_util.h"

namespace mart::acts_test {
namespace {

// `steps` steps of two micro-batches, an evaluation after each (it rewrites the staging slots
// without a backward).
StepTrace run_steps(Rig& rig, int steps) {
  Batches data(rig.B, rig.T), val(rig.B, rig.T, 7);
  const MicroBatch eval_mb = val.next();
  StepTrace tr;
  for (int s = 0; s < steps; ++s) {
    const double loss = rig.exec->train_step({data.next(), data.next()}, hyper(s + 1)).loss;
    tr.record(rig, loss, rig.exec->eval_loss(eval_mb));
  }
  return tr;
}

class CompressSwapFamily : public ::testing::TestWithParam<ModelFamily> {};

TEST_P(CompressSwapFamily, BitwiseEqualToCompressAndWithinTheBound) {
  const ModelConfig m = tiny_model(GetParam(), 5);
  // Four compress_swap blocks: the first two leave their staging slots for the host.
  const Modes cswap = {W, W, W, W, K}, comp = {Z, Z, Z, Z, K};
  ActivationOptions ao;
  ao.eb = 1e-2f;  // coarse: many values change, so a wrong encoding would show
  std::map<int, std::vector<char>> saved;
  ActBody body;
  uint64_t checked = 0, nonzero = 0;
  double worst = 0;
  ao.body_hook = [&](int b, bool backward, const void* p) {
    if (cswap[b] != W) return;
    const char* c = static_cast<const char*>(p);
    if (!backward) return saved[b].assign(c, c + body.bytes());
    for (uint64_t i = 0; i < body.act_values; ++i) {
      float x, y;
      std::memcpy(&x, saved[b].data() + 4 * i, 4);
      std::memcpy(&y, c + 4 * i, 4);
      const double e = std::fabs(static_cast<double>(x) - y);
      worst = std::max(worst, e);
      nonzero += e > 0;
    }
    const uint64_t a = body.act_values * body.act_size;
    EXPECT_EQ(std::memcmp(saved[b].data() + a, c + a, body.stat_bytes), 0) << "stats changed";
    ++checked;
  };
  Rig rig_w(m, 2, 16, cswap, ao);
  body = rig_w.acts().body();
  ActivationOptions plain;
  plain.eb = ao.eb;
  Rig rig_z(m, 2, 16, comp, plain);
  const StepTrace tw = run_steps(rig_w, 3), tz = run_steps(rig_z, 3);
  expect_same_training(tz, tw);
  EXPECT_EQ(checked, 3u * 2 * 4);  // steps x micro-batches x compress_swap blocks
  EXPECT_GT(nonzero, 0u);
  EXPECT_LE(worst, ao.eb);

  const ActivationStats& st = rig_w.acts().stats();
  for (int b = 0; b < 4; ++b) {
    EXPECT_EQ(st.blocks[b].fallbacks, 0u) << "block " << b;
    EXPECT_EQ(st.blocks[b].device_bytes, 0u) << "compress_swap owns no device region";
    EXPECT_EQ(st.blocks[b].encoded_bytes, rig_z.acts().stats().blocks[b].encoded_bytes);
  }
  EXPECT_GT(st.blocks[0].host_bytes, 0u);
  EXPECT_EQ(st.blocks[2].host_bytes, 0u);  // stays in its staging slot
  EXPECT_EQ(st.swap_out_bytes, 0u);        // raw swap lane unused
  // Evaluations copy out too (forward only), so more goes out than comes back in; the exact
  // per-step amounts are checked in CopiesOnlyTheFilledBytes.
  EXPECT_GT(st.cswap_in_bytes, 0u);
  EXPECT_GT(st.cswap_out_bytes, st.cswap_in_bytes);
}

// The copies are exactly the bytes the encodings fill: raw stats, then the encoded segments.
TEST_P(CompressSwapFamily, CopiesOnlyTheFilledBytes) {
  const ModelConfig m = tiny_model(GetParam(), 4);
  Rig rig(m, 2, 16, {W, W, W, K});
  Batches data(2, 16);
  const ActBody body = rig.acts().body();
  for (int s = 0; s < 3; ++s) {
    const uint64_t out0 = rig.acts().stats().cswap_out_bytes;
    const uint64_t in0 = rig.acts().stats().cswap_in_bytes;
    rig.exec->train_step({data.next()}, hyper(s + 1));
    const ActivationStats& st = rig.acts().stats();
    // Block 0 is host-backed (one body segment here: filled = stats span + encoding).
    ASSERT_EQ(codec_segments(body.act_values), 1u);
    const uint64_t filled = compress_stats_span(body) + st.blocks[0].encoded_bytes;
    EXPECT_EQ(st.cswap_out_bytes - out0, filled) << "step " << s + 1;
    EXPECT_EQ(st.cswap_in_bytes - in0, filled) << "step " << s + 1;
    EXPECT_LE(filled, compress_swap_host_bytes(body, {}));
    EXPECT_LT(filled, body.bytes() / 2) << "a compressed copy is smaller than a raw swap's";
  }
}

// Swap and compress_swap lanes side by side, with checkpoint and compress between: bitwise the
// same as keeping the swapped blocks and compressing the compress_swap ones.
TEST_P(CompressSwapFamily, MixedLanesEqualTheirDeviceTwins) {
  const ModelConfig m = tiny_model(GetParam(), 8);
  Rig mixed(m, 2, 16, {S, W, S, W, S, W, C, Z});
  Rig twin(m, 2, 16, {K, Z, K, Z, K, Z, C, Z});
  expect_same_training(run_steps(twin, 2), run_steps(mixed, 2));
  EXPECT_GT(mixed.acts().stats().swap_out_bytes, 0u);
  EXPECT_GT(mixed.acts().stats().cswap_out_bytes, 0u);
  mixed.arena->check_invariants();
  mixed.host->check_invariants();
}

// Over budget: nothing is copied, the block is recomputed exactly, the fallback is counted, and
// the lane's later prefetches still find their slots.
TEST_P(CompressSwapFamily, OverBudgetCopiesNothingAndRecomputesExactly) {
  const ModelConfig m = tiny_model(GetParam(), 4);
  ActivationOptions ao;
  ao.budget.payload_fraction = 0.01;  // 0.32 bits per value: no real activation fits
  Rig keep(m, 2, 16, {K, K, K, K}), tight(m, 2, 16, {W, W, W, K}, ao);
  expect_same_training(run_steps(keep, 2), run_steps(tight, 2));
  const ActivationStats& st = tight.acts().stats();
  for (int b = 0; b < 3; ++b) EXPECT_EQ(st.blocks[b].fallbacks, 2u * 2 + 2) << "block " << b;
  EXPECT_EQ(st.cswap_out_bytes, 0u);
  EXPECT_EQ(st.cswap_in_bytes, 0u);
  EXPECT_EQ(st.recomputed_blocks, 3u);
}

INSTANTIATE_TEST_SUITE_P(Families, CompressSwapFamily,
                         ::testing::Values(ModelFamily::Llama, ModelFamily::GPT2),
                         family_param_name);

}  // namespace
}  // namespace mart::acts_test
