// Where the decoder's buffers sit in its one arena region, for R = B * chunk rows at a time. The
// budget (memory_budget.h: decode_buffer_bytes) and the decoder both read this, so the planned
// size is the allocated size.
#pragma once
#include <cstdint>

#include "kernels/ops.h"
#include "runtime/model/model_spec.h"

namespace mart {

struct DecoderLayout {
  // Byte offsets into the region (each piece arena-rounded). act dtype unless marked.
  uint64_t x = 0;       // [R,C] the residual stream
  uint64_t ln = 0;      // [R,C] normed input of attention / MLP / head
  uint64_t qkv = 0;     // [R,(NH+2NKV)*HS]
  uint64_t att = 0;     // [R,NH*HS]
  uint64_t tmp = 0;     // [R,C] projection outputs
  uint64_t fc = 0;      // [R,F | 2F]
  uint64_t fc_act = 0;  // [R,F]
  uint64_t mean = 0;    // [R] statistics (stat_size each)
  uint64_t rstd = 0;    // [R]
  uint64_t logits = 0;  // [B,V] fp32: the last position of each sequence
  uint64_t bytes = 0;   // the region's size
};

DecoderLayout decoder_layout(const ModelSpec& spec, const Ops& ops, int B, int chunk);

}  // namespace mart
