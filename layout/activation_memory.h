// Memory that per-block activation management takes, as pure functions of the block modes and the
// size of one block's body (docs/ACTIVATIONS.md). The activation manager allocates exactly this
// (memory/activation_manager.cpp builds its regions from activation_memory()), and the planner
// predicts with it, so predicted and measured activation memory agree to the byte.
//
// A block's saved tensors are its input x_in (always resident, owned by the executor) and its
// "body": `act_values` values of the act dtype followed by `stat_bytes` of fp32 statistics.
// Device regions, each rounded to the arena alignment (256 B):
//   keep       one body per kept block                                        tag act_keep
//   checkpoint one shared body-sized scratch for recompute (also the decode   tag act_recompute
//   / compress target of compressed blocks: both use it one block at a time)
//   swap       min(n_swap, kSwapStages) body-sized staging slots               tag act_swap_stage
//   compress   per compressed block: raw stats + an encoding capacity          tag act_compress
//              (compress_region_bytes), plus one shared codec scratch          tag act_codec
//              (codec_scratch_bytes: one segment's worst-case encoding, the
//              backend's encode workspace, the size/status words)
//   compress_swap  compressed, then swapped: min(n_compress_swap, kSwapStages)  tag act_cswap_stage
//              staging slots of compress_region_bytes each, plus the shared
//              scratch and codec scratch of compress
// Pinned host: one body per swapped block except the last kSwapStages in forward order, whose
// bodies are still in their staging slots when backward reaches them (they are never copied);
// likewise one compressed region (compress_swap_host_bytes: stats + encoding capacity, unrounded)
// per compress_swap block except the last kSwapStages. Only the bytes an encoding actually fills
// are copied; the host block is sized for the largest encoding the budget admits.
//
// Pure: no device, no allocation; depends on nothing but the standard library and common/.
// The modes themselves and their traits: layout/act_mode.h.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "layout/act_mode.h"

namespace mart {

// Device staging slots of swap: two let block i's D2H copy run under block i+1's forward, and
// block i's H2D prefetch under block i+1's backward.
inline constexpr int kSwapStages = 2;
// Compress encodes a body in segments of at most this many values, so the codec's worst-case
// output scratch is bounded by one segment, not one body.
inline constexpr uint64_t kCodecSegmentValues = uint64_t{1} << 20;
inline constexpr uint64_t kActArenaAlign = 256;  // == DeviceArena::kAlign (static_assert there)
constexpr uint64_t act_arena_round(uint64_t b) {
  return (b + kActArenaAlign - 1) / kActArenaAlign * kActArenaAlign;
}

struct ActBody {
  uint64_t act_values = 0;  // act-dtype values (what compress encodes)
  uint64_t act_size = 4;    // bytes per act value (4 fp32, 2 bf16)
  uint64_t stat_bytes = 0;  // fp32 statistics after them (compress stores these raw)
  uint64_t bytes() const { return act_values * act_size + stat_bytes; }
};

// Memory policy of compress (docs/ACTIVATIONS.md "Memory policy"). Every compressed block owns a
// fixed region: its raw stats plus an encoding capacity that holds the codec's header/metadata
// for every segment (exact, a function of the value count) and a payload of at most
// payload_fraction * act_values * act_size bytes (e.g. 0.5: 16 bits per fp32 value, 8 per bf16).
// An encoding that does not fit is not stored: the block is recomputed from x_in in that backward
// instead (exact, no extra memory), and the manager counts the fallback.
struct CompressBudget {
  double payload_fraction = 0.5;
  // Device scratch the backend's encoder needs for one segment: codec::cuda::
  // encode_workspace_bytes(segment) on a CUDA build, 0 otherwise (ActivationManager::
  // codec_workspace_bytes gives it).
  uint64_t codec_workspace_bytes = 0;
};

// codec::layout(n).payload: header + per-block metadata of one encoding of n values
// (kernels/codec.h format v1; the activation manager static_asserts that the two agree).
constexpr uint64_t codec_meta_bytes(uint64_t n) {
  const uint64_t nblocks = (n + 255) / 256;
  return (48 + 8 * (nblocks + 1) + 4 * nblocks + 2 * nblocks + 7) / 8 * 8;
}
// codec max_encoded_bytes(n): every block raw (4 bytes per value).
constexpr uint64_t codec_max_encoded_bytes(uint64_t n) {
  return codec_meta_bytes(n) + 4 * n;
}

// Segments of a body: sizes of [0, act_values) cut every kCodecSegmentValues.
uint64_t codec_segments(uint64_t act_values);
uint64_t codec_segment_values(uint64_t act_values, uint64_t segment);
// Bytes a compressed block may fill with its encodings (each starts 8-byte aligned).
uint64_t compress_encoded_capacity(const ActBody& body, const CompressBudget& c);
// Offset of the first encoding in a compressed region (the raw stats come first).
inline uint64_t compress_stats_span(const ActBody& body) {
  return (body.stat_bytes + 7) / 8 * 8;
}
// Arena bytes of one compressed block's region.
uint64_t compress_region_bytes(const ActBody& body, const CompressBudget& c);
// Pinned host bytes of one compress_swap block that leaves its staging slot: the region unrounded.
inline uint64_t compress_swap_host_bytes(const ActBody& body, const CompressBudget& c) {
  return compress_stats_span(body) + compress_encoded_capacity(body, c);
}
// Layout of the shared codec scratch: [encode output / fp32 decode temp | workspace | words].
struct CodecScratchLayout {
  uint64_t out = 0, workspace = 0, words = 0, bytes = 0;  // offsets and total
};
CodecScratchLayout codec_scratch_layout(const ActBody& body, const CompressBudget& c);

struct ActMemory {
  uint64_t device_bytes = 0;  // arena bytes, = the sum of the six below
  uint64_t keep_bytes = 0, scratch_bytes = 0, swap_stage_bytes = 0, compress_bytes = 0,
           codec_bytes = 0, cswap_stage_bytes = 0;
  uint64_t host_bytes = 0;  // pinned host bytes (exact request sizes)
  int swap_stages = 0, cswap_stages = 0;
  // Per block: the device region it owns between its forward and its backward (keep: a body;
  // compress: its region; others 0), and its pinned host bytes.
  std::vector<uint64_t> block_device_bytes, block_host_bytes;
  // Per block: the shared device bytes it needs while its forward or backward runs (checkpoint:
  // the scratch; swap: a staging slot; compress: scratch + codec scratch; compress_swap: scratch
  // + codec scratch + a compressed staging slot; keep: 0).
  std::vector<uint64_t> block_transient_bytes;
};
ActMemory activation_memory(const std::vector<ActMode>& modes, const ActBody& body,
                            const CompressBudget& c = {});

}  // namespace mart
