// The plan search in clear cases: ample memory keeps everything; tight memory offloads and
// recomputes; too little host memory does not fit, for the reason "host"; results are exact in
// memory and consistent with re-pricing the plan.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "planner/search.h"
#include "planner_test_util.h"
#include "tests/common/mode_counts.h"

namespace mart {
namespace {

uint64_t resident_need(const Profile& p, int micro_batch) {
  // All chunks persistent, every block kept, at the chunk size with the least padding.
  uint64_t best = UINT64_MAX;
  for (uint64_t e : chunk_size_grid(p.model)) {
    CostContext ctx(p, micro_batch, e);
    PlanChoice plan{micro_batch, 1, e, ctx.chunks.n_chunks(), 0, test::mode_counts(0, 0, 0)};
    best = std::min(best, predict_memory(ctx, plan, CostOptions{}).device);
  }
  return best;
}

TEST(Search, AmpleMemoryKeepsEverythingOnTheDevice) {
  Profile p = test::toy_profile();
  SearchOptions o;
  o.global_batch = 4;
  SearchResult r = search_plan(p, o);
  ASSERT_TRUE(r.fits) << r.message;
  const auto& b = r.best.plan;
  CostContext ctx(p, b.micro_batch, b.chunk_elems);
  EXPECT_EQ(b.n_persist, ctx.chunks.n_chunks());
  EXPECT_EQ(b.blocks[ActMode::Swap] + b.blocks[ActMode::Checkpoint] + b.blocks[ActMode::Compress],
            0);
  EXPECT_EQ(b.micro_batch * b.grad_accum, 4);
  EXPECT_EQ(r.best.time.binding, "compute");
  EXPECT_LE(r.best.memory.device, r.device_capacity);
  EXPECT_EQ(r.best.memory.pinned_host, 0u);
  EXPECT_GT(r.simulated, 0u);
}

TEST(Search, TightMemoryOffloadsAndRecomputes) {
  Profile p = test::toy_profile();
  SearchOptions o;
  o.global_batch = 4;
  o.allow_swap = false;
  // Less than the resident model states alone, and far less than its activations.
  o.device_capacity = resident_need(p, 1) / 3;
  SearchResult r = search_plan(p, o);
  ASSERT_TRUE(r.fits) << r.message;
  const auto& b = r.best.plan;
  CostContext ctx(p, b.micro_batch, b.chunk_elems);
  EXPECT_LT(b.n_persist, ctx.chunks.n_chunks());
  EXPECT_GT(b.blocks[ActMode::Checkpoint], 0);
  EXPECT_LE(r.best.memory.device, o.device_capacity);
  EXPECT_GT(r.best.memory.pinned_host, 0u);
  // Re-pricing the chosen plan gives the same prediction.
  PlanCandidate again = evaluate_plan(p, b, o.cost);
  EXPECT_EQ(again.memory.device, r.best.memory.device);
  EXPECT_DOUBLE_EQ(again.time.iteration_s, r.best.time.iteration_s);
  for (auto& a : r.alternatives) {
    EXPECT_GE(a.time.iteration_s, r.best.time.iteration_s);
    EXPECT_LE(a.memory.device, o.device_capacity);
  }
}

TEST(Search, SwapIsUsedWhenItHidesUnderCompute) {
  Profile p = test::toy_profile();
  // A link fast enough for a block's activations to travel under the next block's compute.
  p.hardware.h2d_bps = p.hardware.d2h_bps = 2e12;
  p.hardware.h2d_duplex_bps = p.hardware.d2h_duplex_bps = 1.5e12;
  SearchOptions o;
  o.global_batch = 4;
  o.fixed_micro_batch = 4;
  // Room for the model states resident but not for every block's activations.
  const uint64_t need = resident_need(p, 4);
  o.device_capacity = need - 6 * p.find(4)->body_bytes;
  SearchResult with_swap = search_plan(p, o);
  EXPECT_GT(with_swap.best.plan.blocks[ActMode::Swap], 0);
  o.allow_swap = false;
  SearchResult without = search_plan(p, o);
  ASSERT_TRUE(with_swap.fits && without.fits);
  EXPECT_LE(with_swap.best.time.iteration_s, without.best.time.iteration_s);
  // Without swap, something else gives way: recompute or fewer persistent chunks.
  CostContext ctx(p, 4, without.best.plan.chunk_elems);
  EXPECT_TRUE(without.best.plan.blocks[ActMode::Checkpoint] > 0 ||
              without.best.plan.n_persist < ctx.chunks.n_chunks());

  // Compression allowed, and the codec nearly free: compress_swap can at best tie with a swap
  // that already hides under compute, and a tie goes to the exact plan.
  p.hardware.codec_bps = 1e15;
  o.allow_swap = true;
  o.allow_compress = true;
  const SearchResult allowed = search_plan(p, o);
  ASSERT_TRUE(allowed.fits);
  EXPECT_EQ(
      allowed.best.plan.blocks[ActMode::Compress] + allowed.best.plan.blocks[ActMode::CompressSwap],
      0)
      << "a lossy plan won without being faster";
  EXPECT_GT(allowed.best.plan.blocks[ActMode::Swap], 0);
  EXPECT_NEAR(allowed.best.time.iteration_s, with_swap.best.time.iteration_s,
              1e-9 + o.prefer_simpler * with_swap.best.time.iteration_s);
}

// A device that computes slower than the toy's (block times x20: a block's forward is ~5 ms) on
// a PCIe link too slow to hide a whole body's copy under a block's forward, a fast codec, and room
// for only three of the eight blocks' bodies (and CPU Adam too slow to offload model states
// instead): compress_swap (half the copy bytes, two staging
// regions of half a body) beats swap. It is lossy, so never chosen without allow_compress, nor
// when the profile lacks the mode or swap is not allowed.
Profile slow_pcie_fast_codec() {
  Profile p = test::toy_profile();
  for (auto& mb : p.micro_batches) {
    mb.block_forward_s *= 20;
    mb.block_backward_s *= 20;
    mb.block_recompute_s *= 20;
  }
  p.hardware.h2d_bps = p.hardware.d2h_bps = 20e9;
  p.hardware.h2d_duplex_bps = p.hardware.d2h_duplex_bps = 16e9;
  p.hardware.codec_bps = 4e12;
  p.hardware.cpu_adam_elems_per_s = 1e7;  // offloading model states costs seconds: not an option
  return p;
}

void expect_no_compression(const SearchResult& r) {
  ASSERT_TRUE(r.fits) << r.message;
  EXPECT_EQ(r.best.plan.blocks[ActMode::CompressSwap], 0);
  EXPECT_EQ(r.best.plan.blocks[ActMode::Compress], 0);
  for (auto& a : r.alternatives) {
    EXPECT_EQ(a.plan.blocks[ActMode::CompressSwap], 0);
    EXPECT_EQ(a.plan.blocks[ActMode::Compress], 0);
  }
}

TEST(Search, CompressSwapWinsWhenPcieIsSlowAndTheCodecFast) {
  const Profile p = slow_pcie_fast_codec();
  SearchOptions o;
  o.global_batch = 4;
  o.fixed_micro_batch = 4;
  o.device_capacity = resident_need(p, 4) - 5 * p.find(4)->body_bytes;
  o.allow_compress = true;
  const SearchResult with = search_plan(p, o);
  ASSERT_TRUE(with.fits) << with.message;
  const PlanChoice& b = with.best.plan;
  EXPECT_GT(b.blocks[ActMode::CompressSwap],
            kSwapStages);                 // some encodings travel to the host and back
  EXPECT_EQ(b.blocks[ActMode::Swap], 0);  // the swapped blocks are all one mode
  EXPECT_LE(with.best.memory.device, o.device_capacity);
  EXPECT_GT(with.best.memory.swap_host, 0u);
  // Re-pricing the plan gives the same prediction (memory exact, the same simulation).
  const PlanCandidate again = evaluate_plan(p, b, o.cost);
  EXPECT_EQ(again.memory.device, with.best.memory.device);
  EXPECT_EQ(again.memory.pinned_host, with.best.memory.pinned_host);
  EXPECT_DOUBLE_EQ(again.time.iteration_s, with.best.time.iteration_s);
  // The same swapped blocks as plain swap are slower (copies of whole bodies), where they fit.
  PlanChoice as_swap = b;
  as_swap.blocks[ActMode::Swap] = b.blocks[ActMode::CompressSwap];
  as_swap.blocks[ActMode::CompressSwap] = 0;
  const PlanCandidate sw = evaluate_plan(p, as_swap, o.cost);
  EXPECT_GT(sw.time.iteration_s, with.best.time.iteration_s * 1.01);
  std::printf(
      "compress_swap %d (+%d checkpoint, %d compress, %d swap, %d/%d persistent): %.2f ms; as "
      "swap: %.2f ms\n",
      b.blocks[ActMode::CompressSwap], b.blocks[ActMode::Checkpoint], b.blocks[ActMode::Compress],
      b.blocks[ActMode::Swap], b.n_persist, model_chunks(p.model, b.chunk_elems).n_chunks(),
      with.best.time.iteration_s * 1e3, sw.time.iteration_s * 1e3);

  // Without allow_compress: neither lossy mode, and a slower plan.
  o.allow_compress = false;
  const SearchResult without = search_plan(p, o);
  expect_no_compression(without);
  EXPECT_GT(without.best.time.iteration_s, with.best.time.iteration_s * 1.01);
  EXPECT_LT(without.points, with.points);
  // Nor when the profile's runtime cannot run compress_swap, or swap is not allowed.
  o.allow_compress = true;
  Profile q = p;
  q.act_modes = {"keep", "checkpoint", "swap", "compress"};
  const SearchResult no_mode = search_plan(q, o);
  ASSERT_TRUE(no_mode.fits);
  EXPECT_EQ(no_mode.best.plan.blocks[ActMode::CompressSwap], 0);
  for (auto& a : no_mode.alternatives) EXPECT_EQ(a.plan.blocks[ActMode::CompressSwap], 0);
  o.allow_swap = false;
  const SearchResult no_swap = search_plan(p, o);
  ASSERT_TRUE(no_swap.fits);
  EXPECT_EQ(
      no_swap.best.plan.blocks[ActMode::CompressSwap] + no_swap.best.plan.blocks[ActMode::Swap], 0);
}

// The bound is a true lower bound with compress_swap in the space: branch and bound finds what
// simulating every survivor finds.
TEST(Search, BranchAndBoundEqualsSimulatingEverySurvivor) {
  for (int mem_bodies : {3, 5})
    for (bool offload_ok : {false, true}) {
      SCOPED_TRACE(std::to_string(mem_bodies) + (offload_ok ? " offload" : ""));
      Profile p = slow_pcie_fast_codec();
      if (offload_ok) p.hardware.cpu_adam_elems_per_s = 2e9;
      SearchOptions o;
      o.global_batch = 4;
      o.fixed_micro_batch = 4;  // (smaller micro-batches keep every block)
      o.allow_compress = true;
      o.device_capacity = resident_need(p, 4) - mem_bodies * p.find(4)->body_bytes;
      o.alternatives = 1;
      o.estimate_first = 0;  // bound order only: a bound above a plan's time would show
      const SearchResult bb = search_plan(p, o);
      ASSERT_TRUE(bb.fits) << bb.message;
      ASSERT_TRUE(bb.exhaustive);
      SearchOptions all = o;
      all.tolerance = -1;  // no point's bound ever stops the loop
      all.estimate_first = 0;
      all.max_simulations = 1 << 30;
      all.max_sim_ops = UINT64_MAX;
      const SearchResult ex = search_plan(p, all);
      ASSERT_TRUE(ex.fits);
      EXPECT_EQ(ex.simulated, ex.feasible);
      EXPECT_LT(bb.simulated, ex.simulated);
      double fastest = ex.best.time.iteration_s;
      for (auto& a : ex.alternatives) fastest = std::min(fastest, a.time.iteration_s);
      EXPECT_LE(bb.best.time.iteration_s,
                fastest * (1 + o.tolerance) * (1 + o.prefer_simpler) * (1 + 1e-12));
      std::printf(
          "%d bodies short%s: %llu survivors, branch and bound simulated %llu; best: %d "
          "swap, %d compress_swap, %d checkpoint, %d compress\n",
          mem_bodies, offload_ok ? " (offload possible)" : "",
          static_cast<unsigned long long>(ex.feasible),
          static_cast<unsigned long long>(bb.simulated), bb.best.plan.blocks[ActMode::Swap],
          bb.best.plan.blocks[ActMode::CompressSwap], bb.best.plan.blocks[ActMode::Checkpoint],
          bb.best.plan.blocks[ActMode::Compress]);
    }
}

TEST(Search, TooLittleHostMemoryDoesNotFitForTheReasonHost) {
  Profile p = test::toy_profile();
  SearchOptions o;
  o.global_batch = 4;
  o.device_capacity = resident_need(p, 1) / 3;  // must offload
  o.host_memory = 64ull << 20;                  // but the host holds almost nothing
  SearchResult r = search_plan(p, o);
  EXPECT_FALSE(r.fits);
  EXPECT_EQ(r.reason, "host");
  EXPECT_FALSE(r.message.empty());
  ASSERT_FALSE(r.suggestions.empty());
  EXPECT_NE(r.suggestions[0].find("host memory"), std::string::npos);
}

TEST(Search, TooLittleDeviceMemoryNamesTheSmallestNeed) {
  Profile p = test::toy_profile();
  SearchOptions o;
  o.global_batch = 4;
  o.device_capacity = 16ull << 20;
  SearchResult r = search_plan(p, o);
  EXPECT_FALSE(r.fits);
  EXPECT_EQ(r.reason, "device");
  EXPECT_NE(r.message.find("needs"), std::string::npos);
}

TEST(Search, MicroBatchKeepsTheGlobalBatch) {
  Profile p = test::toy_profile();
  SearchOptions o;
  o.global_batch = 4;
  o.device_capacity = resident_need(p, 1) + (64ull << 20);  // micro-batch 4 cannot keep it all
  SearchResult r = search_plan(p, o);
  ASSERT_TRUE(r.fits);
  EXPECT_EQ(r.best.plan.micro_batch * r.best.plan.grad_accum, 4);
}

TEST(Search, EightyLayersIsQuick) {
  test::ToyModel t;
  t.n_layer = 80;
  t.d_model = 8192;
  t.d_ff = 28672;
  Profile p = test::toy_profile(t, {1});
  SearchOptions o;
  o.global_batch = 1;
  o.host_memory = 2ull << 40;
  o.device_capacity = 80ull << 30;
  SearchResult r = search_plan(p, o);
  ASSERT_TRUE(r.fits) << r.message;
  std::printf("80 layers: %llu points, %llu feasible, %llu simulated (%s)\n",
              static_cast<unsigned long long>(r.points),
              static_cast<unsigned long long>(r.feasible),
              static_cast<unsigned long long>(r.simulated), r.exhaustive ? "exhaustive" : "budget");
  EXPECT_LT(r.best.plan.n_persist, 1000);
}

// Planning is deterministic: the same inputs give the same plan, bit for bit, and the same work.
// (No clock takes part; a busy machine cannot change the answer.)
TEST(Search, SameInputsGiveTheSamePlan) {
  Profile p = slow_pcie_fast_codec();
  SearchOptions o;
  o.global_batch = 4;
  o.allow_compress = true;
  o.device_capacity = resident_need(p, 1) * 3 / 4;
  const SearchResult a = search_plan(p, o), b = search_plan(p, o);
  ASSERT_TRUE(a.fits) << a.message;
  EXPECT_EQ(a.best.plan.n_persist, b.best.plan.n_persist);
  EXPECT_EQ(a.best.plan.n_buffer, b.best.plan.n_buffer);
  EXPECT_EQ(a.best.plan.chunk_elems, b.best.plan.chunk_elems);
  EXPECT_EQ(a.best.plan.micro_batch, b.best.plan.micro_batch);
  EXPECT_EQ(a.best.plan.blocks, b.best.plan.blocks);
  EXPECT_EQ(a.best.time.iteration_s, b.best.time.iteration_s);
  EXPECT_EQ(a.simulated, b.simulated);
  EXPECT_EQ(a.sim_ops, b.sim_ops);
  EXPECT_EQ(a.best.why, b.best.why);
}

// The progress callback (a [plan] progress line) sees every simulation, in order, never beyond
// its announced most (min(survivors, max(max_simulations, estimate_first))), then (simulated,
// simulated); the plan is the one found without it.
TEST(Search, ProgressCountsSimulationsAndDoesNotChangeThePlan) {
  Profile p = slow_pcie_fast_codec();
  SearchOptions o;
  o.global_batch = 4;
  o.allow_compress = true;
  o.device_capacity = resident_need(p, 1) * 3 / 4;
  const SearchResult quiet = search_plan(p, o);
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  o.progress = [&](uint64_t done, uint64_t total) { calls.push_back({done, total}); };
  const SearchResult shown = search_plan(p, o);
  ASSERT_TRUE(shown.fits);
  ASSERT_EQ(calls.size(), shown.simulated + 1);
  for (size_t i = 0; i + 1 < calls.size(); ++i) {
    EXPECT_EQ(calls[i].first, i + 1);
    EXPECT_LE(calls[i].first, calls[i].second);
    EXPECT_EQ(calls[i].second, std::min<uint64_t>(shown.feasible, 4000));
  }
  EXPECT_EQ(calls.back(), std::make_pair(shown.simulated, shown.simulated));
  EXPECT_EQ(shown.best.plan.n_persist, quiet.best.plan.n_persist);
  EXPECT_EQ(shown.best.plan.n_buffer, quiet.best.plan.n_buffer);
  EXPECT_EQ(shown.best.plan.chunk_elems, quiet.best.plan.chunk_elems);
  EXPECT_EQ(shown.best.plan.micro_batch, quiet.best.plan.micro_batch);
  EXPECT_EQ(shown.best.plan.blocks, quiet.best.plan.blocks);
  EXPECT_EQ(shown.best.time.iteration_s, quiet.best.time.iteration_s);
  EXPECT_EQ(shown.simulated, quiet.simulated);
  // With a work bound, the announced most is the bound.
  calls.clear();
  o.max_simulations = 3;
  o.estimate_first = 0;
  search_plan(p, o);
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls.front().second, 3u);
}

// The work bound is a count: max_simulations simulations and no more, whatever the time; the
// search then says it was not exhaustive. Negative control: a bound it does not reach.
TEST(Search, WorkBoundIsACountOfSimulations) {
  Profile p = slow_pcie_fast_codec();
  SearchOptions o;
  o.global_batch = 4;
  o.allow_compress = true;
  o.device_capacity = resident_need(p, 1) * 3 / 4;
  o.estimate_first = 0;
  const SearchResult free_run = search_plan(p, o);
  ASSERT_TRUE(free_run.fits);
  ASSERT_TRUE(free_run.exhaustive);
  ASSERT_GT(free_run.simulated, 4u);
  o.max_simulations = 3;
  const SearchResult capped = search_plan(p, o);
  ASSERT_TRUE(capped.fits);
  EXPECT_EQ(capped.simulated, 3u);
  EXPECT_FALSE(capped.exhaustive);
  o.max_simulations = 4000;
  o.max_sim_ops = 1;  // stops after the first simulation (it processed more events than 1)
  const SearchResult ops = search_plan(p, o);
  EXPECT_EQ(ops.simulated, 1u);
  EXPECT_FALSE(ops.exhaustive);
}

TEST(Profile, JsonRoundTrip) {
  Profile p = test::toy_profile();
  Profile q = profile_from_json(to_json(p));
  EXPECT_EQ(to_json(q), to_json(p));
  nlohmann::json j = to_json(p);
  j["mart_profile_version"] = 2;
  EXPECT_THROW(profile_from_json(j), Error);
  j = to_json(p);
  j["hardware"].erase("h2d_bps");
  try {
    profile_from_json(j);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("hardware.h2d_bps"), std::string::npos);
  }
}

}  // namespace
}  // namespace mart
