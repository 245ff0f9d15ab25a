#include "layout/activation_memory.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace mart {

uint64_t codec_segments(uint64_t n) {
  return (n + kCodecSegmentValues - 1) / kCodecSegmentValues;
}

uint64_t codec_segment_values(uint64_t n, uint64_t s) {
  return std::min(kCodecSegmentValues, n - s * kCodecSegmentValues);
}

uint64_t compress_encoded_capacity(const ActBody& body, const CompressBudget& c) {
  MART_CHECK(std::isfinite(c.payload_fraction) && c.payload_fraction > 0 && c.payload_fraction <= 2,
             "compress budget: payload_fraction = ", c.payload_fraction,
             " must be in (0, 2] (the payload bytes a compressed block may use per raw act byte)");
  // Per segment: its exact header/metadata, plus 8 bytes because encodings are stored 8-byte
  // aligned and a payload is only a multiple of 4 (so alignment never eats the payload budget).
  uint64_t meta = 0;
  const uint64_t segs = codec_segments(body.act_values);
  for (uint64_t s = 0; s < segs; ++s)
    meta += codec_meta_bytes(codec_segment_values(body.act_values, s)) + 8;
  const double raw = static_cast<double>(body.act_values * body.act_size);
  const uint64_t payload = static_cast<uint64_t>(std::ceil(raw * c.payload_fraction));
  return meta + (payload + 7) / 8 * 8;
}

uint64_t compress_region_bytes(const ActBody& body, const CompressBudget& c) {
  return act_arena_round(compress_stats_span(body) + compress_encoded_capacity(body, c));
}

CodecScratchLayout codec_scratch_layout(const ActBody& body, const CompressBudget& c) {
  const uint64_t seg = std::min(body.act_values, kCodecSegmentValues);
  CodecScratchLayout l;
  // One segment's worst-case encoding; it is also the fp32 temp a bf16 decode goes through
  // (4 * seg <= codec_max_encoded_bytes(seg)).
  l.out = 0;
  l.workspace = act_arena_round(codec_max_encoded_bytes(seg));
  l.words = l.workspace + act_arena_round(c.codec_workspace_bytes);
  l.bytes = l.words + kActArenaAlign;  // encoded size (u64) and decode status (i32)
  return l;
}

ActMemory activation_memory(const std::vector<ActMode>& modes, const ActBody& body,
                            const CompressBudget& c) {
  ActMemory m;
  const size_t n = modes.size();
  m.block_device_bytes.assign(n, 0);
  m.block_host_bytes.assign(n, 0);
  m.block_transient_bytes.assign(n, 0);
  const uint64_t rbody = act_arena_round(body.bytes());
  const int n_swap = static_cast<int>(std::count(modes.begin(), modes.end(), ActMode::Swap));
  const bool any_ckpt = std::count(modes.begin(), modes.end(), ActMode::Checkpoint) > 0;
  const int n_cswap =
      static_cast<int>(std::count(modes.begin(), modes.end(), ActMode::CompressSwap));
  const bool any_comp = std::any_of(modes.begin(), modes.end(), act_mode_compresses);
  m.swap_stages = std::min(n_swap, kSwapStages);
  m.cswap_stages = std::min(n_cswap, kSwapStages);
  const uint64_t creg = any_comp ? compress_region_bytes(body, c) : 0;
  const uint64_t codec = any_comp ? codec_scratch_layout(body, c).bytes : 0;
  const uint64_t chost = n_cswap > 0 ? compress_swap_host_bytes(body, c) : 0;
  int swap_index = 0, cswap_index = 0;
  for (size_t b = 0; b < n; ++b) {
    switch (modes[b]) {
      case ActMode::Keep:
        m.block_device_bytes[b] = rbody;
        m.keep_bytes += rbody;
        break;
      case ActMode::Checkpoint:
        m.block_transient_bytes[b] = rbody;
        break;
      case ActMode::Swap:
        m.block_transient_bytes[b] = rbody;
        // The last swap_stages swapped blocks stay in their staging slots (never copied).
        if (swap_index < n_swap - m.swap_stages) m.block_host_bytes[b] = body.bytes();
        m.host_bytes += m.block_host_bytes[b];
        ++swap_index;
        break;
      case ActMode::Compress:
        m.block_device_bytes[b] = creg;
        m.block_transient_bytes[b] = rbody + codec;
        m.compress_bytes += creg;
        break;
      case ActMode::CompressSwap:
        m.block_transient_bytes[b] = rbody + codec + creg;
        // As swap: the last cswap_stages blocks stay in their staging slots.
        if (cswap_index < n_cswap - m.cswap_stages) m.block_host_bytes[b] = chost;
        m.host_bytes += m.block_host_bytes[b];
        ++cswap_index;
        break;
    }
  }
  if (any_ckpt || any_comp) m.scratch_bytes = rbody;
  m.swap_stage_bytes = static_cast<uint64_t>(m.swap_stages) * rbody;
  m.cswap_stage_bytes = static_cast<uint64_t>(m.cswap_stages) * creg;
  m.codec_bytes = codec;
  m.device_bytes = m.keep_bytes + m.scratch_bytes + m.swap_stage_bytes + m.compress_bytes +
                   m.codec_bytes + m.cswap_stage_bytes;
  return m;
}

}  // namespace mart
