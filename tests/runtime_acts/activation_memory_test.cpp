// The pure formula of layout/activation_memory.h on hand-computed cases: what each mode
// costs on the device and in pinned host memory, and the compress region's parts.
#include <gtest/gtest.h>

#include "common/error.h"
#include "kernels/codec.h"
#include "layout/activation_memory.h"

namespace mart {
namespace {

constexpr ActMode K = ActMode::Keep, C = ActMode::Checkpoint, S = ActMode::Swap,
                  Z = ActMode::Compress, W = ActMode::CompressSwap;

TEST(ActivationMemory, HandComputedLayouts) {
  const ActBody body{100'000, 4, 1000};  // 401,000 bytes -> 401,152 in the arena
  const uint64_t rb = 401'152;
  ASSERT_EQ(act_arena_round(body.bytes()), rb);

  ActMemory m = activation_memory({K, K, C, C}, body);
  EXPECT_EQ(m.device_bytes, 3 * rb);
  EXPECT_EQ(m.host_bytes, 0u);
  EXPECT_EQ(m.block_device_bytes, (std::vector<uint64_t>{rb, rb, 0, 0}));
  EXPECT_EQ(m.block_transient_bytes, (std::vector<uint64_t>{0, 0, rb, rb}));

  // Swap: two staging slots; the last two swapped blocks never go to the host.
  m = activation_memory({S, K, S, S, S}, body);
  EXPECT_EQ(m.swap_stages, 2);
  EXPECT_EQ(m.swap_stage_bytes, 2 * rb);
  EXPECT_EQ(m.device_bytes, 3 * rb);
  EXPECT_EQ(m.block_host_bytes, (std::vector<uint64_t>{body.bytes(), 0, body.bytes(), 0, 0}));
  EXPECT_EQ(m.host_bytes, 2 * body.bytes());
  m = activation_memory({S, K}, body);
  EXPECT_EQ(m.swap_stages, 1);
  EXPECT_EQ(m.device_bytes, 2 * rb);
  EXPECT_EQ(m.host_bytes, 0u);

  // Compress: region = stats (8-aligned) + per-segment metadata + 8 + the payload budget.
  const CompressBudget cb{0.5, 0};
  const uint64_t meta = codec::layout(100'000).payload;
  const uint64_t cap = meta + 8 + 200'000;
  EXPECT_EQ(compress_encoded_capacity(body, cb), cap);
  const uint64_t region = act_arena_round(1000 + cap);
  EXPECT_EQ(compress_region_bytes(body, cb), region);
  const CodecScratchLayout cl = codec_scratch_layout(body, cb);
  EXPECT_EQ(cl.bytes, act_arena_round(codec::max_encoded_bytes(100'000)) + 256);
  m = activation_memory({Z, Z, C}, body, cb);
  EXPECT_EQ(m.compress_bytes, 2 * region);
  EXPECT_EQ(m.scratch_bytes, rb);  // shared by the checkpointed and the compressed blocks
  EXPECT_EQ(m.codec_bytes, cl.bytes);
  EXPECT_EQ(m.device_bytes, 2 * region + rb + cl.bytes);
  EXPECT_EQ(m.block_transient_bytes[0], rb + cl.bytes);
  // A workspace (CUDA's encoder) is counted once, in the codec scratch.
  EXPECT_EQ(activation_memory({Z}, body, {0.5, 1000}).codec_bytes, cl.bytes + 1024);

  // compress_swap: two region-sized staging slots, the shared scratch and codec scratch; the
  // host holds the unrounded region of every block but the last two in forward order.
  const uint64_t chost = 1000 + cap;
  EXPECT_EQ(compress_swap_host_bytes(body, cb), chost);
  m = activation_memory({W, K, W, Z, W}, body, cb);
  EXPECT_EQ(m.cswap_stages, 2);
  EXPECT_EQ(m.cswap_stage_bytes, 2 * region);
  EXPECT_EQ(m.compress_bytes, region);
  EXPECT_EQ(m.scratch_bytes, rb);
  EXPECT_EQ(m.device_bytes, rb + 3 * region + rb + cl.bytes);
  EXPECT_EQ(m.block_device_bytes, (std::vector<uint64_t>{0, rb, 0, region, 0}));
  EXPECT_EQ(m.block_host_bytes, (std::vector<uint64_t>{chost, 0, 0, 0, 0}));
  EXPECT_EQ(m.host_bytes, chost);
  EXPECT_EQ(m.block_transient_bytes[0], rb + cl.bytes + region);
  // Swap and compress_swap lanes have their own slots and host blocks.
  m = activation_memory({S, W, S, W, S, W}, body, cb);
  EXPECT_EQ(m.swap_stage_bytes, 2 * rb);
  EXPECT_EQ(m.cswap_stage_bytes, 2 * region);
  EXPECT_EQ(m.host_bytes, body.bytes() + chost);
  EXPECT_EQ(m.device_bytes, 2 * rb + 2 * region + rb + cl.bytes);
}

TEST(ActivationMemory, SegmentsAndBudgetChecks) {
  EXPECT_EQ(codec_segments(kCodecSegmentValues), 1u);
  EXPECT_EQ(codec_segments(kCodecSegmentValues + 1), 2u);
  EXPECT_EQ(codec_segment_values(kCodecSegmentValues + 1, 1), 1u);
  const ActBody big{3 * kCodecSegmentValues, 2, 0};
  uint64_t meta = 0;
  for (int s = 0; s < 3; ++s) meta += codec::layout(kCodecSegmentValues).payload + 8;
  EXPECT_EQ(compress_encoded_capacity(big, {0.25, 0}), meta + 3 * kCodecSegmentValues / 2);
  EXPECT_THROW(compress_encoded_capacity(big, {0.0, 0}), Error);
  EXPECT_THROW(parse_act_modes({"keep", "zip"}), Error);
  EXPECT_EQ(parse_act_modes({"keep", "checkpoint", "swap", "compress", "compress_swap"}),
            (std::vector<ActMode>{K, C, S, Z, W}));
  EXPECT_STREQ(act_mode_name(W), "compress_swap");
}

}  // namespace
}  // namespace mart
