// Swap moves bytes, it never changes them: keep, checkpoint and swap layouts give bitwise-identical
// losses, gradients and weights step after step (grad_accum 2, an evaluation between steps), for
// both model families; and every swapped body is back, bit for bit, when its backward starts.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "tests/runtime_acts/acts_util.h"

namespace mart::acts_test {
namespace {

class SwapParity : public ::testing::TestWithParam<ModelFamily> {};

StepTrace run_steps(const ModelConfig& m, const Modes& modes, int steps) {
  const int B = 2, T = 16;
  Rig rig(m, B, T, modes);
  Batches data(B, T), val(B, T, 7);
  const MicroBatch eval_mb = val.next();
  StepTrace tr;
  const uint64_t ckpt = std::count(modes.begin(), modes.end(), C);
  const int n_swap = static_cast<int>(std::count(modes.begin(), modes.end(), S));
  const uint64_t copied = std::max(0, n_swap - kSwapStages);
  for (int s = 0; s < steps; ++s) {
    std::vector<MicroBatch> mbs = {data.next(), data.next()};
    const double loss = rig.exec->train_step(mbs, hyper(s + 1)).loss;
    // A forward-only pass between steps: swap slots are rewritten without a backward.
    tr.record(rig, loss, rig.exec->eval_loss(eval_mb));
    const auto& st = rig.acts().stats();
    EXPECT_EQ(st.recomputed_blocks, ckpt);
    // Per step: 2 training forwards + 1 evaluation swap out; 2 backwards swap in.
    EXPECT_EQ(st.swap_out_bytes, (s + 1) * 3 * copied * rig.acts().body_bytes());
    EXPECT_EQ(st.swap_in_bytes, (s + 1) * 2 * copied * rig.acts().body_bytes());
  }
  return tr;
}

TEST_P(SwapParity, KeepCheckpointAndSwapGiveBitwiseIdenticalTraining) {
  const ModelConfig m = tiny_model(GetParam(), 5);
  const int steps = 3;
  const StepTrace keep = run_steps(m, {K, K, K, K, K}, steps);
  for (const Modes& modes : {Modes{S, S, S, S, S}, Modes{S, S, S, K, K}, Modes{S, C, S, S, K},
                             Modes{C, S, K, S, S}, Modes{S, K, K, K, K}, Modes{S, S, C, C, K}}) {
    SCOPED_TRACE(modes_str(modes));
    expect_same_training(keep, run_steps(m, modes, steps));
  }
  // The comparison is between moving, non-trivial values.
  EXPECT_NE(keep.losses.front(), keep.losses.back());
  double g2 = 0;
  for (const auto& g : keep.grads[0])
    for (float x : g) g2 += static_cast<double>(x) * x;
  EXPECT_GT(g2, 1e-6);
}

// The body each swapped block's backward sees is byte for byte what its forward wrote, so the
// prefetch brought back the right block into the right slot.
TEST_P(SwapParity, EverySwappedBodyComesBackBitForBit) {
  const ModelConfig m = tiny_model(GetParam(), 6);
  const Modes modes = {S, S, K, S, S, S};
  std::map<int, std::vector<char>> saved;
  int checked = 0;
  ActivationOptions ao;
  uint64_t bytes = 0;
  ao.body_hook = [&](int b, bool backward, const void* body) {
    if (modes[b] != S) return;
    const char* p = static_cast<const char*>(body);
    if (!backward) {
      saved[b].assign(p, p + bytes);
    } else {
      ASSERT_EQ(saved.count(b), 1u);
      EXPECT_EQ(std::memcmp(saved[b].data(), p, bytes), 0) << "block " << b;
      ++checked;
    }
  };
  Rig rig(m, 2, 16, modes, ao);
  bytes = rig.acts().body_bytes();
  Batches data(2, 16);
  for (int s = 0; s < 2; ++s) rig.exec->train_step({data.next(), data.next()}, hyper(s + 1));
  EXPECT_EQ(checked, 2 * 2 * 5);  // steps * micro-batches * swapped blocks
  // Three of the five swapped blocks went to the host and back; the last two never left.
  EXPECT_EQ(rig.acts().stats().swap_in_bytes, 2u * 2 * 3 * bytes);
}

INSTANTIATE_TEST_SUITE_P(Families, SwapParity,
                         ::testing::Values(ModelFamily::Llama, ModelFamily::GPT2),
                         family_param_name);

}  // namespace
}  // namespace mart::acts_test
