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
  c.activations.n_swap = n_swap;
  c.activations.n_checkpoint = n_checkpoint;
  c.activations.n_compress = n_compress;
  c.activations.n_compress_swap = n_compress_swap;
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
  c.activations.n_swap = 5;
  EXPECT_THROW(resolve_block_modes(c), Error);
  c.activations.n_swap = 2;
  c.activations.n_compress_swap = 3;
  EXPECT_THROW(resolve_block_modes(c), Error);
}

}  // namespace
}  // namespace mart
