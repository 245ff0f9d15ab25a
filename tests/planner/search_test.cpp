// The plan search in clear cases: ample memory keeps everything; tight memory offloads and
// recomputes; too little host memory does not fit, for the reason "host"; results are exact in
// memory and consistent with re-pricing the plan.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "planner_test_util.h"
#include "runtime/planner/search.h"

namespace mart {
namespace {

uint64_t resident_need(const Profile& p, int micro_batch) {
  // All chunks persistent, every block kept, at the chunk size with the least padding.
  uint64_t best = UINT64_MAX;
  for (uint64_t e : chunk_size_grid(p.model)) {
    CostContext ctx(p, micro_batch, e);
    PlanChoice plan{micro_batch, 1, e, ctx.chunks.n_chunks(), 0, 0, 0, 0};
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
  EXPECT_EQ(b.n_swap + b.n_checkpoint + b.n_compress, 0);
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
  EXPECT_GT(b.n_checkpoint, 0);
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
  EXPECT_GT(with_swap.best.plan.n_swap, 0);
  o.allow_swap = false;
  SearchResult without = search_plan(p, o);
  ASSERT_TRUE(with_swap.fits && without.fits);
  EXPECT_LE(with_swap.best.time.iteration_s, without.best.time.iteration_s);
  // Without swap, something else gives way: recompute or fewer persistent chunks.
  CostContext ctx(p, 4, without.best.plan.chunk_elems);
  EXPECT_TRUE(without.best.plan.n_checkpoint > 0 ||
              without.best.plan.n_persist < ctx.chunks.n_chunks());
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
  std::printf("80 layers: %llu points, %llu feasible, %llu simulated (%s), %.3f s\n",
              static_cast<unsigned long long>(r.points),
              static_cast<unsigned long long>(r.feasible),
              static_cast<unsigned long long>(r.simulated), r.exhaustive ? "exhaustive" : "budget",
              r.seconds);
  EXPECT_LT(r.best.plan.n_persist, 1000);
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
