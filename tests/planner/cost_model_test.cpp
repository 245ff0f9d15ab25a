// Cost model: exact memory from the runtime's formulas; simulated time behaves as the schedule
// says it must (compute-bound when resident, PCIe-bound when starved, accumulation, clipping).
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "layout/chunk_memory.h"
#include "planner/cost_model.h"
#include "planner_test_util.h"
#include "tests/common/mode_counts.h"

namespace mart {
namespace {

double compute_sum(const MicroBatchProfile& mb, int L) {
  return L * (mb.block_forward_s + mb.block_backward_s) + mb.embedding_forward_s +
         mb.embedding_backward_s + mb.head_s;
}

TEST(CostModel, CountedActivationMemoryEqualsTheFormula) {
  test::ToyModel t;
  t.n_layer = 7;
  Profile p = test::toy_profile(t);
  int with_cswap_host = 0;
  for (int b : {1, 4}) {
    CostContext ctx(p, b, chunk_size_grid(p.model).back());
    for (double frac : {0.5, 0.25, 1.5})
      for (int s = 0; s <= 7; ++s)
        for (int w = 0; w + s <= 7; ++w)
          for (int z = 0; z + s + w <= 7; ++z)
            for (int c = 0; c + s + w + z <= 7; ++c) {
              CompressBudget cb;
              cb.payload_fraction = frac;
              ActBytes a = activation_bytes(ctx, test::mode_counts(s, c, z, w), cb);
              ActMemory m =
                  activation_memory(block_modes_from_counts(7, test::mode_counts(s, c, z, w)),
                                    ctx.body, compress_budget(ctx, cb));
              ASSERT_EQ(a.device, m.device_bytes) << s << c << z << w;
              ASSERT_EQ(a.host, m.host_bytes) << s << c << z << w;
              with_cswap_host += w > kSwapStages;
            }
  }
  EXPECT_GT(with_cswap_host, 100);
  // And predict_memory uses the same layout: a compress_swap plan's pinned host is the formula's.
  const uint64_t e = chunk_size_grid(p.model).back();
  CostContext ctx(p, 2, e);
  PlanChoice plan{2, 1, e, ctx.chunks.n_chunks(), 0, test::mode_counts(1, 1, 1, 4)};
  CostOptions o;
  o.compress.payload_fraction = 0.75;
  const MemoryPrediction mp = predict_memory(ctx, plan, o);
  const ActBytes a = activation_bytes(ctx, test::mode_counts(1, 1, 1, 4), o.compress);
  EXPECT_EQ(mp.activations, a.device);
  EXPECT_EQ(mp.swap_host, (4 - kSwapStages) *
                              compress_swap_host_bytes(ctx.body, compress_budget(ctx, o.compress)));
}

TEST(CostModel, MemoryIsTheSumOfTheRuntimeFormulas) {
  Profile p = test::toy_profile();
  const uint64_t e = chunk_size_grid(p.model)[2];
  CostContext ctx(p, 2, e);
  PlanChoice plan{2, 1, e, 1, 2, test::mode_counts(2, 3, 0)};
  CostOptions o;
  MemoryPrediction m = predict_memory(ctx, plan, o);
  const auto& mb = *p.find(2);
  const ChunkLayout L = layout_chunks(p.model.tensor_numel, e, p.model.tensor_glue);
  EXPECT_EQ(m.model_states, chunk_state_device_bytes(L, 1, 2, 2, p.model.tensor_numel.size()));
  EXPECT_EQ(m.chunk_host, chunk_state_host_bytes(L, 1, 2));
  ActMemory act =
      activation_memory(block_modes_from_counts(8, test::mode_counts(2, 3, 0)), ctx.body);
  EXPECT_EQ(m.activations, act.device_bytes);
  EXPECT_EQ(m.swap_host, act.host_bytes);
  EXPECT_EQ(m.device, m.model_states + mb.io_bytes + mb.inputs_bytes + mb.head_bytes +
                          mb.scratch_bytes + act.device_bytes);
  EXPECT_EQ(m.pinned_host, m.chunk_host + m.swap_host);
  EXPECT_EQ(m.host, m.pinned_host);  // a GPU's arena is not host memory
}

TEST(CostModel, EverythingResidentIsComputeBound) {
  Profile p = test::toy_profile();
  const uint64_t e = chunk_size_grid(p.model).back();
  CostContext ctx(p, 4, e);
  PlanChoice plan{4, 1, e, ctx.chunks.n_chunks(), 0, test::mode_counts(0, 0, 0)};
  EventSim sim;
  TimePrediction t = predict_time(ctx, plan, CostOptions{}, sim);
  // compute + device Adam + zeroing the gradients and their sums of squares (+ chunk padding)
  const double c = compute_sum(*p.find(4), 8) +
                   p.model.n_params / p.hardware.device_adam_elems_per_s +
                   2.0 * p.model.n_params * 2 / p.hardware.mem_bw_bps;
  EXPECT_GE(t.iteration_s, c * (1 - 1e-9));
  EXPECT_LT(t.iteration_s, c * 1.001);
  EXPECT_EQ(t.binding, "compute");
  EXPECT_EQ(t.uploads, 0u);
  EXPECT_GT(t.mfu, 0);
  EXPECT_NEAR(t.tokens_per_s, 4.0 * 1024 / t.iteration_s, 1e-6);
}

TEST(CostModel, StarvedPcieBindsAndRecomputeCosts) {
  Profile p = test::toy_profile();
  p.hardware.h2d_bps = p.hardware.d2h_bps = 1e9;  // 1 GB/s
  p.hardware.h2d_duplex_bps = p.hardware.d2h_duplex_bps = 0.8e9;
  const uint64_t e = chunk_size_grid(p.model)[0];
  CostContext ctx(p, 1, e);
  const int nb = std::max(1, min_buffers(p.model, ctx.chunks, 0));
  PlanChoice off{1, 1, e, 0, nb, test::mode_counts(0, 0, 0)};
  EventSim sim;
  TimePrediction t = predict_time(ctx, off, CostOptions{}, sim);
  EXPECT_EQ(t.binding, "h2d");
  // Every chunk goes up at least once per pass, minus what the buffers keep between passes.
  EXPECT_GE(t.uploads, static_cast<uint64_t>(2 * ctx.chunks.n_chunks() - nb));
  EXPECT_EQ(t.offloads, static_cast<uint64_t>(ctx.chunks.n_chunks()));
  // Uploads alone take this long at full bandwidth.
  EXPECT_GE(t.iteration_s, static_cast<double>(t.upload_bytes) / p.hardware.h2d_bps);
  // Checkpointing adds recompute on top of the same schedule.
  Profile fast = test::toy_profile();
  CostContext fctx(fast, 1, e);
  PlanChoice keep{1, 1, e, fctx.chunks.n_chunks(), 0, test::mode_counts(0, 0, 0)};
  PlanChoice ck = keep;
  ck.blocks[ActMode::Checkpoint] = 4;
  const double tk = predict_time(fctx, keep, CostOptions{}, sim).iteration_s;
  const double tc = predict_time(fctx, ck, CostOptions{}, sim).iteration_s;
  EXPECT_NEAR(tc - tk, 4 * fast.find(1)->block_recompute_s, 1e-9);
}

TEST(CostModel, AccumulationRepeatsTheMicroBatchAndReuploadsGradients) {
  Profile p = test::toy_profile();
  const uint64_t e = chunk_size_grid(p.model)[1];
  CostContext ctx(p, 1, e);
  const int nc = ctx.chunks.n_chunks();
  const int nb = std::max(1, min_buffers(p.model, ctx.chunks, 1));
  PlanChoice one{1, 1, e, 1, nb, test::mode_counts(0, 0, 0)}, two = one;
  two.grad_accum = 2;
  EventSim sim;
  TimePrediction a = predict_time(ctx, one, CostOptions{}, sim);
  TimePrediction b = predict_time(ctx, two, CostOptions{}, sim);
  EXPECT_GT(b.iteration_s, a.iteration_s);
  EXPECT_NEAR(b.busy_s[0] - a.busy_s[0], compute_sum(*p.find(1), 8), 1e-3);  // one more pass
  EXPECT_EQ(b.offloads, 2u * (nc - 1));
  EXPECT_GE(b.uploads, a.uploads + (nc - 1));  // gradient re-uploads for the second micro-batch
}

TEST(CostModel, ClippingDefersCpuUpdatesButBothComplete) {
  Profile p = test::toy_profile();
  p.hardware.cpu_adam_elems_per_s = 0.2e9;  // slow CPU Adam
  const uint64_t e = chunk_size_grid(p.model)[1];
  CostContext ctx(p, 4, e);
  const int nb = std::max(1, min_buffers(p.model, ctx.chunks, 0));
  PlanChoice plan{4, 1, e, 0, nb, test::mode_counts(0, 0, 0)};
  CostOptions clip, noclip;
  noclip.grad_clip = false;
  EventSim sim;
  TimePrediction tc = predict_time(ctx, plan, clip, sim);
  TimePrediction tn = predict_time(ctx, plan, noclip, sim);
  // Without clipping the updates overlap backward, so the step is no slower.
  EXPECT_LE(tn.iteration_s, tc.iteration_s * 1.0001);
  EXPECT_EQ(tc.binding, "cpu_adam");
  // CPU Adam does all offloaded elements once per step either way.
  EXPECT_NEAR(tc.busy_s[3], tn.busy_s[3], 1e-9 + 1e-6 * tc.busy_s[3]);
}

TEST(CostModel, SwapTrafficShowsOnBothCopyStreams) {
  Profile p = test::toy_profile();
  const uint64_t e = chunk_size_grid(p.model).back();
  CostContext ctx(p, 2, e);
  PlanChoice plan{2, 1, e, ctx.chunks.n_chunks(), 0, test::mode_counts(5, 0, 0)};
  EventSim sim;
  nlohmann::json trace;
  TimePrediction t = predict_time(ctx, plan, CostOptions{}, sim, &trace);
  // 5 swapped blocks, the last 2 stay in their staging slots: 3 go out and come back.
  EXPECT_EQ(t.swap_bytes, 2 * 3 * ctx.body.bytes());
  EXPECT_GT(t.busy_s[1], 0);
  EXPECT_GT(t.busy_s[2], 0);
  EXPECT_TRUE(trace.is_array());
  EXPECT_GT(trace.size(), 10u);
}

// compress_swap, replayed as the activation manager runs it: encode on the compute stream (and a
// host read-back of the size on a GPU), the encoding's swap-out on D2H after it, priced at the
// budget; in backward the decode on compute, then at once the swap-in of the compress_swap block
// kSwapStages earlier into the slot the decode freed. Swap keeps its own slots and indices.
TEST(CostModel, CompressSwapEncodesOnComputeAndSwapsTheBudget) {
  Profile p = test::toy_profile();
  // Slow PCIe: copies take longer than a block's compute, so every wait shows in the times.
  p.hardware.h2d_bps = p.hardware.d2h_bps = 2e9;
  p.hardware.h2d_duplex_bps = p.hardware.d2h_duplex_bps = 1.5e9;
  const uint64_t e = chunk_size_grid(p.model).back();
  CostContext ctx(p, 2, e);
  // s s s w w w w z: one swap copy (block 0), two compress_swap copies (blocks 3, 4).
  PlanChoice plan{2, 1, e, ctx.chunks.n_chunks(), 0, test::mode_counts(3, 0, 1, 4)};
  CostOptions o;
  o.compress.payload_fraction = 0.75;
  EventSim sim;
  const TimePrediction t = predict_time(ctx, plan, o, sim);
  const uint64_t chost = compress_swap_host_bytes(ctx.body, compress_budget(ctx, o.compress));
  EXPECT_LT(chost, ctx.body.bytes());
  EXPECT_EQ(t.swap_bytes, 2 * (ctx.body.bytes() + 2 * chost));

  // Per (name, block): the ops of both simulated steps, in issue order.
  std::map<std::pair<std::string, int>, std::vector<EventSim::OpId>> ops;
  for (EventSim::OpId i = 0; i < sim.size(); ++i) ops[{sim.name(i), sim.tag(i)}].push_back(i);
  auto get = [&](const char* name, int b, size_t k) {
    auto it = ops.find({name, b});
    EXPECT_TRUE(it != ops.end() && it->second.size() == 2) << name << " " << b;
    return it == ops.end() || it->second.size() <= k ? -1 : it->second[k];
  };
  const double codec_s =
      static_cast<double>(ctx.body.act_values * ctx.body.act_size) / p.hardware.codec_bps;
  for (int b = 0; b < 8; ++b) {
    const bool coded = b >= 3;  // compress_swap and compress
    EXPECT_EQ(ops.count({"encode", b}), coded ? 1u : 0u) << b;
    EXPECT_EQ(ops.count({"decode", b}), coded ? 1u : 0u) << b;
    // Copies: swap block 0 only (1 and 2 stay in their slots); compress_swap blocks 3 and 4
    // (5 and 6 stay in theirs).
    EXPECT_EQ(ops.count({"swap out", b}), b == 0 ? 1u : 0u) << b;
    EXPECT_EQ(ops.count({"cswap out", b}), b == 3 || b == 4 ? 1u : 0u) << b;
    EXPECT_EQ(ops.count({"cswap in", b}), b == 3 || b == 4 ? 1u : 0u) << b;
  }
  for (size_t k = 0; k < 2; ++k) {
    for (int b = 3; b < 8; ++b) {
      const auto enc = get("encode", b, k), dec = get("decode", b, k);
      ASSERT_GE(enc, 0);
      ASSERT_GE(dec, 0);
      EXPECT_EQ(sim.resource(enc), Resource::Compute);
      EXPECT_EQ(sim.resource(dec), Resource::Compute);
      EXPECT_DOUBLE_EQ(sim.work(enc), codec_s);
      EXPECT_DOUBLE_EQ(sim.work(dec), codec_s);
      EXPECT_GE(sim.start(enc), sim.end(get("forward", b, k)));
      EXPECT_LE(sim.end(dec), sim.start(get("backward", b, k)));
      // A GPU reads the encoded size back: the host waits for the encode.
      EventSim::OpId sync = enc + 1;
      while (sync < sim.size() && sim.resource(sync) != Resource::Host) ++sync;
      ASSERT_LT(sync, sim.size());
      EXPECT_GE(sim.end(sync), sim.end(enc));
    }
    for (int b : {3, 4}) {
      const auto out = get("cswap out", b, k), in = get("cswap in", b, k);
      ASSERT_GE(out, 0);
      ASSERT_GE(in, 0);
      EXPECT_EQ(sim.resource(out), Resource::D2H);
      EXPECT_EQ(sim.resource(in), Resource::H2D);
      EXPECT_DOUBLE_EQ(sim.work(out), chost / p.hardware.d2h_bps);
      EXPECT_DOUBLE_EQ(sim.work(in), chost / p.hardware.h2d_bps);
      EXPECT_GE(sim.start(out), sim.end(get("encode", b, k)));  // after the encode
      // The slot is reused by the compress_swap block two later: its forward waits for the copy.
      EXPECT_GE(sim.start(get("forward", b + 2, k)), sim.end(out));
      // Backward: issued right after the decode of the block two later (before its backward),
      // after that decode and this block's swap-out; this block's decode waits for it.
      const auto dec_later = get("decode", b + 2, k);
      EXPECT_GT(in, dec_later);
      EXPECT_LT(in, get("backward", b + 2, k));
      EXPECT_GE(sim.start(in), sim.end(dec_later));
      EXPECT_GE(sim.start(in), sim.end(out));
      EXPECT_GE(sim.start(get("decode", b, k)), sim.end(in));
    }
    // Swap keeps its own slots: block 0 goes out after its forward and comes back after the
    // backward of block 2 (two swaps later), before its own backward.
    const auto sout = get("swap out", 0, k), sin = get("swap in", 0, k);
    EXPECT_DOUBLE_EQ(sim.work(sout), ctx.body.bytes() / p.hardware.d2h_bps);
    EXPECT_GE(sim.start(sout), sim.end(get("forward", 0, k)));
    EXPECT_GE(sim.start(sin), sim.end(get("backward", 2, k)));
    EXPECT_LE(sim.end(sin), sim.start(get("backward", 0, k)));
  }
  // The slow copies show: slower than the same blocks kept (everything fits either way).
  PlanChoice keep{2, 1, e, ctx.chunks.n_chunks(), 0, test::mode_counts(0, 0, 0, 0)};
  EXPECT_GT(t.iteration_s, predict_time(ctx, keep, o, sim).iteration_s + 2 * codec_s * 5);
}

}  // namespace
}  // namespace mart

namespace mart {
namespace {

// The reported step is in steady state: simulating more steps does not change it.
TEST(CostModel, TwoStepsReachTheSteadyState) {
  Profile p = test::toy_profile();
  p.hardware.cpu_adam_elems_per_s = 0.5e9;
  for (uint64_t e : {chunk_size_grid(p.model)[0], chunk_size_grid(p.model)[3]})
    for (bool clip : {true, false})
      for (int np : {0, 2}) {
        CostContext ctx(p, 2, e);
        const int nb = std::max(1, min_buffers(p.model, ctx.chunks, np));
        PlanChoice plan{2, 2, e, np, nb + 1, test::mode_counts(3, 1, 0)};
        if (clip) plan = {2, 2, e, np, nb + 1, 1, 1, 1, 3};  // compress_swap slots carry over too
        CostOptions two, five;
        two.grad_clip = five.grad_clip = clip;
        two.steps = 2;
        five.steps = 5;
        EventSim sim;
        const double a = predict_time(ctx, plan, two, sim).iteration_s;
        const double b = predict_time(ctx, plan, five, sim).iteration_s;
        EXPECT_NEAR(a, b, 1e-9 * b) << "chunk " << e << " clip " << clip << " np " << np;
      }
}

}  // namespace
}  // namespace mart
