// planner/sim_timeline.h and planner/memory_regions.h: the simulated iteration as a StepTimeline
// (one span per operation with work in the reported step, on its lane, kind and tag mapped) and a
// plan's memory as regions that add up to the cost model's exact totals.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>

#include "common/error.h"
#include "common/units.h"
#include "planner/memory_regions.h"
#include "planner/search.h"
#include "planner/sim_timeline.h"
#include "planner_test_util.h"
#include "tests/common/mode_counts.h"

namespace mart {
namespace {

// An offloaded plan with every kind of operation: uploads, offloads, CPU Adam, swaps, recompute,
// compress and compress_swap (encode/decode), device Adam for the persistent chunk; 3 swapped
// blocks of each kind, so one of each leaves its staging slot.
struct Offloaded {
  Profile p = test::toy_profile(test::ToyModel{.n_layer = 10});
  uint64_t e = chunk_size_grid(p.model)[0];
  CostContext ctx{p, 2, e};
  PlanChoice plan{2,
                  2,
                  e,
                  1,
                  std::max(1, min_buffers(p.model, ctx.chunks, 1)) + 1,
                  test::mode_counts(3, 2, 1, 3)};  // and 1 kept
};

TEST(SimTimeline, OneSpanPerOperationWithWorkInTheStep) {
  Offloaded o;
  EventSim sim;
  StepWindow w;
  const TimePrediction t = predict_time(o.ctx, o.plan, CostOptions{}, sim, nullptr, &w);
  EXPECT_DOUBLE_EQ(w.t1 - w.t0, t.iteration_s);
  const StepTimeline tl = simulated_timeline(sim, w, o.p.hardware);
  int expected = 0;
  std::map<std::string, int> names;
  for (int i = 0; i < sim.size(); ++i) {
    ASSERT_NE(sim_op_traits(sim.name(i)), nullptr) << "no row for \"" << sim.name(i) << "\"";
    if (sim.work(i) > 0 && sim.end(i) > w.t0 && sim.start(i) < w.t1)
      ++expected, ++names[sim.name(i)];
  }
  EXPECT_EQ(static_cast<int>(tl.spans.size()), expected);
  for (const char* n : {"upload", "offload", "cpu adam", "swap out", "swap in", "cswap out",
                        "cswap in", "recompute", "encode", "decode", "forward", "backward", "head"})
    EXPECT_GT(names[n], 0) << n << " missing from the simulated step";
  EXPECT_EQ(tl.source, "simulated");
  EXPECT_EQ(tl.device, "toy-gpu");
  EXPECT_DOUBLE_EQ(tl.duration_s, t.iteration_s);
  for (const TimelineSpan& s : tl.spans) {
    EXPECT_GE(s.start_s, 0);
    EXPECT_LE(s.end_s, tl.duration_s * (1 + 1e-12));
    EXPECT_GT(s.end_s, s.start_s);
  }
  // Busy time per lane is the cost model's (the spans are the step's operations, clipped to it).
  for (int r = 0; r < 4; ++r)
    EXPECT_NEAR(tl.busy_s(static_cast<TimelineLane>(r)), t.busy_s[r], 1e-9 * t.iteration_s)
        << resource_name(static_cast<Resource>(r));
}

TEST(SimTimeline, LanesKindsTagsAndBytes) {
  Offloaded o;
  const StepTimeline tl = plan_timeline(o.p, o.plan, CostOptions{});
  std::set<SpanKind> kinds;
  const uint64_t chunk_bytes = o.e * 2;  // bf16
  for (const TimelineSpan& s : tl.spans) {
    kinds.insert(s.kind);
    switch (s.kind) {
      case SpanKind::Upload:
        EXPECT_EQ(s.lane, TimelineLane::H2D);
        EXPECT_GE(s.chunk, 1);  // chunk 0 is persistent
        EXPECT_EQ(s.block, -1);
        EXPECT_GT(s.bytes, 0u);
        EXPECT_LE(s.bytes, chunk_bytes);
        EXPECT_NE(s.label.find("chunk " + std::to_string(s.chunk)), std::string::npos) << s.label;
        break;
      case SpanKind::Offload:
        EXPECT_EQ(s.lane, TimelineLane::D2H);
        EXPECT_GE(s.chunk, 1);
        break;
      case SpanKind::Adam:
        EXPECT_EQ(s.lane, TimelineLane::CpuAdam);
        EXPECT_GE(s.chunk, 1);
        EXPECT_EQ(s.bytes, 0u);
        break;
      case SpanKind::SwapOut:
        EXPECT_EQ(s.lane, TimelineLane::D2H);
        EXPECT_GE(s.block, 0);
        EXPECT_LT(s.block, o.p.model.n_layer);
        EXPECT_GT(s.bytes, 0u);
        break;
      case SpanKind::SwapIn:
        EXPECT_EQ(s.lane, TimelineLane::H2D);
        EXPECT_GE(s.block, 0);
        break;
      case SpanKind::Forward:
      case SpanKind::Backward:
      case SpanKind::Recompute:
      case SpanKind::Head:
      case SpanKind::Optimizer:
      case SpanKind::Other:  // encode / decode
        EXPECT_EQ(s.lane, TimelineLane::Compute) << s.label;
        EXPECT_EQ(s.bytes, 0u);
        break;
      case SpanKind::Sync:
        ADD_FAILURE() << "a zero-work operation became a span: " << s.label;
        break;
    }
    if (s.kind == SpanKind::Recompute) {  // the checkpointed blocks (swap first, then checkpoint)
      EXPECT_GE(s.block, 0);
      EXPECT_EQ(s.label, "recompute block " + std::to_string(s.block));
    }
  }
  for (SpanKind k : {SpanKind::Forward, SpanKind::Backward, SpanKind::Recompute, SpanKind::Head,
                     SpanKind::Optimizer, SpanKind::Upload, SpanKind::Offload, SpanKind::SwapOut,
                     SpanKind::SwapIn, SpanKind::Adam})
    EXPECT_TRUE(kinds.count(k)) << span_kind_name(k);
  // A resident plan: no copies, no CPU Adam.
  const PlanChoice resident{2, 1, o.e, o.ctx.chunks.n_chunks(), 0, test::mode_counts(0, 0, 0)};
  for (const TimelineSpan& s : plan_timeline(o.p, resident, CostOptions{}).spans)
    EXPECT_EQ(s.lane, TimelineLane::Compute) << s.label;
}

TEST(SimTimeline, UnknownOperationsAreNotInTheTable) {
  EXPECT_EQ(sim_op_traits("teleport"), nullptr);
  ASSERT_NE(sim_op_traits("cswap in"), nullptr);
  EXPECT_EQ(sim_op_traits("cswap in")->kind, SpanKind::SwapIn);
}

TEST(MemoryRegions, AddUpToTheCostModelExactly) {
  Offloaded o;
  for (bool cpu : {false, true}) {
    Profile p = o.p;
    if (cpu) p.hardware.compute_on_host = true;
    const PlanMemory pm = plan_memory_regions(p, o.plan, CostOptions{});
    const MemoryPrediction m = evaluate_plan(p, o.plan, CostOptions{}).memory;
    EXPECT_EQ(pm.sum(MemoryPool::Device), m.device);
    EXPECT_EQ(pm.sum(MemoryPool::Pinned), m.pinned_host);
    EXPECT_EQ(pm.sum(MemoryPool::Pageable), m.host - m.pinned_host);
    EXPECT_EQ(pm.sum(MemoryPool::Pageable) > 0, cpu);
    std::set<std::string> names;
    for (const MemoryRegion& r : pm.regions) {
      EXPECT_GT(r.bytes, 0u) << r.name;
      EXPECT_TRUE(names.insert(r.name).second) << "duplicate region " << r.name;
    }
    for (const char* n :
         {"resident_chunks", "device_optimizer_states", "chunk_buffers", "grad_norms", "io",
          "block_inputs", "act_keep", "act_recompute", "act_swap_stage", "act_compress",
          "act_codec", "act_cswap_stage", "head", "scratch", "host_master_adam",
          "host_grad_landing", "host_upload_copy", "host_swap", "host_cswap"})
      EXPECT_TRUE(names.count(n)) << n;
  }
}

TEST(MemoryRegions, ARegionDroppedChangesTheSum) {  // negative control for the test above
  Offloaded o;
  PlanMemory pm = plan_memory_regions(o.p, o.plan, CostOptions{});
  const uint64_t device = pm.predicted.device;
  pm.regions.erase(std::find_if(pm.regions.begin(), pm.regions.end(),
                                [](const MemoryRegion& r) { return r.name == "chunk_buffers"; }));
  EXPECT_NE(pm.sum(MemoryPool::Device), device);
}

TEST(Search, NothingFitsGivesTheClosestPlan) {
  Profile p = test::toy_profile();
  SearchOptions opt;
  opt.device_capacity = 64ull << 20;  // far too small
  const SearchResult r = search_plan(p, opt);
  ASSERT_FALSE(r.fits);
  EXPECT_EQ(r.reason, "device");
  ASSERT_TRUE(r.has_closest);
  const PlanMemory pm = plan_memory_regions(p, r.closest, opt.cost);
  EXPECT_GT(pm.predicted.device, r.device_capacity);
  // The message names this plan's size.
  EXPECT_NE(r.message.find(format_bytes(pm.predicted.device)), std::string::npos) << r.message;

  SearchOptions host = opt;
  host.device_capacity = 0;
  host.host_memory = 1ull << 20;  // every offloaded plan overflows the host
  host.pinned_limit = 1ull << 20;
  p.hardware.device_memory = 2ull << 30;  // too small to keep every chunk resident
  const SearchResult h = search_plan(p, host);
  ASSERT_FALSE(h.fits);
  EXPECT_EQ(h.reason, "host");
  ASSERT_TRUE(h.has_closest);
  const PlanMemory hm = plan_memory_regions(p, h.closest, host.cost);
  EXPECT_LE(hm.predicted.device, h.device_capacity);
  EXPECT_GT(hm.predicted.pinned_host, h.pinned_limit);
}

}  // namespace
}  // namespace mart
