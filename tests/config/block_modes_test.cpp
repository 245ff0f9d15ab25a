// resolve_block_modes: explicit lists pass through; counts follow the documented layout.
#include <gtest/gtest.h>

#include "config_test_util.h"

namespace mart {
namespace {

// The layout as one letter per block: s(wap) c(heckpoint) z (compress) w (compress_swap)
// k(eep).
std::string layout(int n_layer, int n_swap, int n_checkpoint, int n_compress,
                   int n_compress_swap = 0) {
  JobConfig c;
  c.model.n_layer = n_layer;
  c.activations.counts[ActMode::Swap] = n_swap;
  c.activations.counts[ActMode::Checkpoint] = n_checkpoint;
  c.activations.counts[ActMode::Compress] = n_compress;
  c.activations.counts[ActMode::CompressSwap] = n_compress_swap;
  std::string out;
  for (const std::string& m : resolve_block_modes(c))
    out += m == "swap"            ? 's'
           : m == "checkpoint"    ? 'c'
           : m == "compress"      ? 'z'
           : m == "compress_swap" ? 'w'
                                  : 'k';
  return out;
}

TEST(BlockModes, ExplicitListWins) {
  JobConfig c;
  c.activations.modes = {"keep", "swap", "keep", "compress"};
  EXPECT_EQ(resolve_block_modes(c), c.activations.modes);
}

TEST(BlockModes, AllKeepByDefault) {
  EXPECT_EQ(resolve_block_modes(JobConfig{}),
            (std::vector<std::string>{"keep", "keep", "keep", "keep"}));
}

TEST(BlockModes, LayoutsFromCounts) {
  EXPECT_EQ(layout(8, 2, 2, 2), "ssczczkk");
  EXPECT_EQ(layout(8, 1, 2, 4), "sczzczzk");
  EXPECT_EQ(layout(6, 0, 3, 0), "ccckkk");  // nothing to interleave with: contiguous
  EXPECT_EQ(layout(6, 0, 0, 2), "zzkkkk");
  EXPECT_EQ(layout(6, 6, 0, 0), "ssssss");
  EXPECT_EQ(layout(6, 0, 2, 4), "czzczz");
  EXPECT_EQ(layout(12, 2, 3, 3), "ssczczczkkkk");
  EXPECT_EQ(layout(7, 0, 3, 1), "cczckkk");  // uneven: positions round(i * 4 / 3) = 0, 1, 3
  EXPECT_EQ(layout(6, 0, 2, 3), "czzczk");   // round(2.5) goes up
  EXPECT_EQ(layout(12, 0, 4, 8), "czzczzczzczz");
  EXPECT_EQ(layout(5, 1, 1, 1), "sczkk");
  EXPECT_EQ(layout(0, 0, 0, 0), "");
  // compress_swap right after swap, before the checkpoint/compress range.
  EXPECT_EQ(layout(8, 1, 1, 0, 2), "swwckkkk");
  EXPECT_EQ(layout(8, 0, 2, 2, 3), "wwwczczk");
  EXPECT_EQ(layout(4, 0, 0, 0, 4), "wwww");
  EXPECT_EQ(layout(6, 2, 0, 1, 1), "sswzkk");
}

TEST(BlockModes, CountsThatDoNotFitThrow) {
  JobConfig c;
  c.activations.counts[ActMode::Swap] = 5;
  EXPECT_THROW(resolve_block_modes(c), Error);
  c.activations.counts[ActMode::Swap] = 2;
  c.activations.counts[ActMode::CompressSwap] = 3;
  EXPECT_THROW(resolve_block_modes(c), Error);
}

// The mode table drives the config: every mode but keep has a count key, `--set` reaches it, and
// the counts it sets lay out to exactly those counts (keep taking the rest).
TEST(BlockModes, EveryCountKeyOfTheModeTableIsAConfigKey) {
  int keys = 0;
  for (const ActModeTraits& t : kActModeTraits) {
    SCOPED_TRACE(t.name);
    EXPECT_EQ(parse_act_mode(t.name), t.mode);
    if (!t.count_key) {
      EXPECT_EQ(t.mode, ActMode::Keep);  // keep takes the rest
      continue;
    }
    ++keys;
    const JobConfig c =
        load_job_config("", {"model.n_layer=4", std::string("activations.") + t.count_key + "=2"});
    EXPECT_EQ(c.activations.counts[t.mode], 2);
    EXPECT_EQ(c.activations.counts.placed(), 2);
    ModeCounts want;
    want[t.mode] = 2;
    want[ActMode::Keep] = 2;
    EXPECT_EQ(counts_of_modes(block_modes_from_counts(4, c.activations.counts)), want);
  }
  EXPECT_EQ(keys, static_cast<int>(kActModeCount) - 1);
  // Negative control: a key no mode has is refused.
  EXPECT_THROW(load_job_config("", {"activations.n_keep=1"}), Error);
}

}  // namespace
}  // namespace mart
