// Activation modes: recomputing a checkpointed block reproduces exactly what keeping it would have
// stored, so keep and checkpoint plans give bitwise-identical losses and gradients, step after
// step. And the memory accounting is exact: the activation manager takes what device_budget()
// predicted, the arena's peak is the predicted total to the byte, and checkpointing saves exactly
// the bodies it drops (minus the one shared recompute buffer).
#include <gtest/gtest.h>

#include <algorithm>

#include "kernels/ops.h"
#include "runtime/data/markov_corpus.h"
#include "runtime/model/transformer.h"
#include "tests/integration/integ_util.h"

namespace mart::integ {
namespace {

using Modes = std::vector<ActMode>;
constexpr ActMode K = ActMode::Keep, C = ActMode::Checkpoint;

class ActModesTest : public ::testing::TestWithParam<ModelFamily> {};

std::string family_param_name(const ::testing::TestParamInfo<ModelFamily>& i) {
  return family_tag(i.param);
}

// Runs `steps` optimizer steps of grad_accum 2 on Markov batches; records each step's loss and,
// after each step, the gradients it used (read before the next step zeroes them) and the weights.
struct Trace {
  std::vector<double> losses;
  std::vector<std::vector<std::vector<float>>> grads, params;  // [step][tensor]
};

Trace run_steps(const ModelConfig& m, const Modes& modes, int steps) {
  const int B = 2, T = 16;
  Rig rig(m, B, T, modes);
  auto src = std::make_shared<MarkovSource>(MarkovSpec{});
  MarkovStream stream(src, 99);
  Trace tr;
  for (int s = 0; s < steps; ++s) {
    std::vector<MicroBatch> mbs(2);
    for (auto& mb : mbs) {
      std::vector<uint32_t> tok(static_cast<size_t>(B) * (T + 1));
      for (auto& t : tok) t = stream.next();
      for (int b = 0; b < B; ++b)
        for (int t = 0; t < T; ++t) {
          mb.inputs.push_back(static_cast<int32_t>(tok[b * (T + 1) + t]));
          mb.targets.push_back(static_cast<int32_t>(tok[b * (T + 1) + t + 1]));
        }
    }
    StepHyper h;
    h.lr = 1e-2f;
    h.weight_decay = 0.1f;
    h.grad_clip = 1.0f;
    h.step = s + 1;
    StepResult r = rig.exec->train_step(mbs, h);
    tr.losses.push_back(r.loss);
    tr.grads.emplace_back();
    tr.params.emplace_back();
    for (size_t i = 0; i < rig.spec.params.size(); ++i) {
      tr.grads.back().push_back(rig.grad(static_cast<int>(i)));
      tr.params.back().push_back(rig.param(static_cast<int>(i)));
    }
    const uint64_t expect_recomputed = std::count(modes.begin(), modes.end(), C);
    EXPECT_EQ(rig.exec->activations().stats().recomputed_blocks, expect_recomputed);
  }
  return tr;
}

TEST_P(ActModesTest, CheckpointAndKeepGiveBitwiseIdenticalLossesAndGradients) {
  ModelConfig m = tiny_model(GetParam());
  const int steps = 4;
  Trace keep = run_steps(m, {K, K}, steps);
  for (const Modes& modes : {Modes{C, K}, Modes{K, C}, Modes{C, C}}) {
    SCOPED_TRACE(std::string(act_mode_name(modes[0])) + "," + act_mode_name(modes[1]));
    Trace ck = run_steps(m, modes, steps);
    for (int s = 0; s < steps; ++s) {
      EXPECT_EQ(keep.losses[s], ck.losses[s]) << "step " << s + 1;
      for (size_t i = 0; i < keep.grads[s].size(); ++i) {
        EXPECT_TRUE(bitwise_equal(keep.grads[s][i], ck.grads[s][i]))
            << "gradient of tensor " << i << " at step " << s + 1;
        EXPECT_TRUE(bitwise_equal(keep.params[s][i], ck.params[s][i]))
            << "weights of tensor " << i << " after step " << s + 1;
      }
    }
  }
  // The losses move (the comparison is not between constants) and the gradients are non-trivial.
  EXPECT_NE(keep.losses.front(), keep.losses.back());
  double g2 = 0;
  for (const auto& g : keep.grads[0])
    for (float x : g) g2 += static_cast<double>(x) * x;
  EXPECT_GT(g2, 1e-6);
}

// With 4 blocks the saving from checkpointing is visible at several counts.
TEST_P(ActModesTest, ActivationMemoryAccountingIsExact) {
  ModelConfig m = tiny_model(GetParam());
  m.n_layer = 4;
  const int B = 2, T = 16;
  uint64_t keep_peak = 0, body = 0;
  for (const Modes& modes : {Modes{K, K, K, K}, Modes{C, K, K, K}, Modes{C, C, K, K},
                             Modes{C, K, C, K}, Modes{C, C, C, C}}) {
    const int n_ckpt = static_cast<int>(std::count(modes.begin(), modes.end(), C));
    SCOPED_TRACE(std::to_string(n_ckpt) + " checkpointed blocks");
    Rig rig(m, B, T, modes);
    const auto& acts = rig.exec->activations();
    body = arena_round(acts.body_bytes());
    ASSERT_GT(body, 0u);
    EXPECT_EQ(acts.body_bytes(),
              block_body_bytes(rig.spec, B, T, dtype_size(rig.ops->act_dtype())));
    EXPECT_EQ(acts.stats().device_bytes, rig.budget.activations);
    // Keep blocks own a body each; all checkpointed blocks share one recompute buffer.
    EXPECT_EQ(rig.budget.activations, body * ((4 - n_ckpt) + (n_ckpt > 0 ? 1 : 0)));
    for (int b = 0; b < 4; ++b)
      EXPECT_EQ(acts.stats().saved_device_bytes[b], modes[b] == K ? body : 0u) << "block " << b;

    // A train step and an evaluation allocate nothing beyond the static layout.
    MicroBatch mb = random_batch(B, T, m.vocab_size, 5);
    StepHyper h;
    h.lr = 1e-3f;
    rig.exec->train_step({mb}, h);
    rig.exec->eval_loss(mb);
    const ArenaStats& st = rig.arena->stats();
    EXPECT_EQ(st.peak_in_use, rig.budget.total());
    EXPECT_EQ(st.in_use, rig.budget.total());
    EXPECT_EQ(st.high_water, rig.budget.total());
    EXPECT_EQ(st.by_tag.count("act_keep") ? st.by_tag.at("act_keep") : 0, body * (4 - n_ckpt));
    EXPECT_EQ(st.by_tag.count("act_recompute") ? st.by_tag.at("act_recompute") : 0,
              n_ckpt > 0 ? body : 0u);
    rig.arena->check_invariants();

    if (n_ckpt == 0) keep_peak = st.peak_in_use;
    // Checkpointing n blocks drops n bodies and adds one shared buffer.
    else
      EXPECT_EQ(keep_peak - st.peak_in_use, body * (n_ckpt - 1));
  }
}

// The Trainer reports the same exact peak: summary and metrics carry budget.total().
TEST_P(ActModesTest, TrainerPeakEqualsBudgetAndCheckpointingLowersIt) {
  TempDir tmp;
  JobConfig cfg = tiny_job(GetParam(), 2);
  cfg.model.n_layer = 3;
  auto peak_of = [&](const std::vector<std::string>& modes, const std::string& run) {
    JobConfig c = cfg;
    c.activations.modes = modes;
    validate(c);
    TrainSummary s = train(c, tmp.file(run));
    ModelSpec spec = build_model_spec(c.model);
    auto ops = make_cpu_ops();
    DeviceBudget b = device_budget(spec, *ops, c.train.micro_batch, c.train.seq_len,
                                   parse_act_modes(modes), resident_state_bytes(spec, DType::F32));
    EXPECT_EQ(s.peak_device_bytes, b.total()) << run;
    for (const auto& m : read_metrics(tmp.file(run)))
      EXPECT_EQ(m.at("peak_device_bytes").get<uint64_t>(), b.total()) << run;
    nlohmann::json summary = nlohmann::json::parse(read_all(s.summary_path));
    EXPECT_EQ(summary.at("plan").at("device_budget_bytes").get<uint64_t>(), b.total());
    return s.peak_device_bytes;
  };
  uint64_t keep = peak_of({"keep", "keep", "keep"}, "keep");
  uint64_t ckpt = peak_of({"checkpoint", "checkpoint", "checkpoint"}, "ckpt");
  ModelSpec spec = build_model_spec(cfg.model);
  const uint64_t body = arena_round(block_body_bytes(spec, 2, 16, 4));
  EXPECT_EQ(keep - ckpt, 2 * body);
}

INSTANTIATE_TEST_SUITE_P(Families, ActModesTest,
                         ::testing::Values(ModelFamily::Llama, ModelFamily::GPT2),
                         family_param_name);

}  // namespace
}  // namespace mart::integ
