// The planner's replicas of runtime layout rules (plan_layout.h), on their documented examples.
// (tests/profiler_auto compares each replica with the runtime function it replicates.)
#include <gtest/gtest.h>

#include "common/error.h"
#include "planner/plan_layout.h"
#include "planner_test_util.h"
#include "tests/common/mode_counts.h"

namespace mart {
namespace {

std::string letters(int n, int s, int c, int z, int w = 0) {
  std::string out;
  for (ActMode m : block_modes_from_counts(n, test::mode_counts(s, c, z, w)))
    out += m == ActMode::Swap           ? 's'
           : m == ActMode::Checkpoint   ? 'c'
           : m == ActMode::Compress     ? 'z'
           : m == ActMode::CompressSwap ? 'w'
                                        : 'k';
  return out;
}

TEST(PlanLayout, BlockModesFollowTheDocumentedRule) {
  EXPECT_EQ(letters(8, 2, 2, 2), "ssczczkk");
  EXPECT_EQ(letters(8, 1, 2, 4), "sczzczzk");
  EXPECT_EQ(letters(8, 0, 3, 1), "cczckkkk");
  EXPECT_EQ(letters(6, 0, 3, 0), "ccckkk");
  EXPECT_EQ(letters(4, 0, 0, 0), "kkkk");
  EXPECT_THROW(letters(4, 2, 2, 1), Error);
  // compress_swap right after swap, before the checkpoint/compress span (block_modes.h).
  EXPECT_EQ(letters(8, 1, 1, 0, 2), "swwckkkk");
  EXPECT_EQ(letters(8, 0, 2, 2, 3), "wwwczczk");
  EXPECT_EQ(letters(5, 0, 0, 0, 5), "wwwww");
  EXPECT_EQ(letters(8, 2, 0, 1, 1), "sswzkkkk");
  EXPECT_THROW(letters(4, 1, 1, 1, 2), Error);
  EXPECT_THROW(letters(4, 0, 0, 0, -1), Error);
}

TEST(PlanLayout, AcquireOrderIsForwardHeadBackward) {
  auto seq = executor_acquire_order(2, true);
  std::vector<std::pair<int, bool>> want = {{0, false}, {1, false}, {2, false}, {3, true},
                                            {0, true},  {2, true},  {1, true},  {0, true}};
  EXPECT_EQ(seq, want);
  EXPECT_EQ(executor_acquire_order(2, false).size(), want.size() - 1);
}

TEST(PlanLayout, ChunksGroupsAndMinimumBuffers) {
  test::ToyModel t;
  t.n_layer = 4;
  Profile p = test::toy_profile(t);
  const auto grid = chunk_size_grid(p.model);
  ASSERT_FALSE(grid.empty());
  EXPECT_TRUE(std::is_sorted(grid.begin(), grid.end()));
  // choose_chunk_elems picks from the same grid
  const uint64_t chosen = choose_chunk_elems(p.model.tensor_numel, 2, p.model.tensor_glue);
  EXPECT_NE(std::find(grid.begin(), grid.end(), chosen), grid.end());
  for (uint64_t e : grid) {
    ModelChunks mc = model_chunks(p.model, e);
    uint64_t total = 0;
    for (auto n : mc.chunk_numel) total += n;
    EXPECT_EQ(total, p.model.n_params);
    EXPECT_EQ(min_buffers(p.model, mc, mc.n_chunks()), 0);  // everything persistent
    EXPECT_GE(min_buffers(p.model, mc, 0), 1);
    // A group never needs more buffers than it has chunks.
    size_t most = 0;
    for (auto& g : mc.group_chunks) most = std::max(most, g.size());
    EXPECT_LE(min_buffers(p.model, mc, 0), static_cast<int>(most));
  }
}

TEST(PlanLayout, TiedHeadNeedsTheEmbeddingToo) {
  test::ToyModel t;
  t.n_layer = 2;
  t.tied = true;
  Profile p = test::toy_profile(t);
  // Small chunks: the embedding and the head norm sit in different chunks; the head needs both.
  ModelChunks mc = model_chunks(p.model, p.model.tensor_numel[0]);
  const int hg = p.model.head_group();
  ASSERT_EQ(mc.group_chunks[hg].size(), 1u);
  EXPECT_GE(min_buffers(p.model, mc, 0), 2);
}

}  // namespace
}  // namespace mart
