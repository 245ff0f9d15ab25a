// Host bit packing for the codec payload (format: kernels/codec.h). Code i of a block occupies
// bits [i*w, (i+1)*w) of the block's u32 word stream, LSB first; unused high bits of the last word
// are zero. Groups of 32 codes fill exactly w words, so each group is packed by a fully unrolled
// template with compile-time shifts; a width-indexed table picks the instance.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace mart::codec::detail {

template <uint32_t W>
inline void pack32(const uint32_t* q, uint32_t* w) {
#pragma GCC unroll 32
  for (uint32_t k = 0; k < W; ++k) w[k] = 0;
#pragma GCC unroll 32
  for (uint32_t j = 0; j < 32; ++j) {
    const uint32_t bit = j * W, wi = bit / 32, sh = bit % 32;
    w[wi] |= q[j] << sh;
    if (sh + W > 32) w[wi + 1] |= q[j] >> (32 - sh);
  }
}

template <uint32_t W>
inline void unpack32(const uint32_t* w, uint32_t* q) {
  constexpr uint32_t mask = (1u << W) - 1u;
#pragma GCC unroll 32
  for (uint32_t j = 0; j < 32; ++j) {
    const uint32_t bit = j * W, wi = bit / 32, sh = bit % 32;
    uint32_t v = w[wi] >> sh;
    if (sh + W > 32) v |= w[wi + 1] << (32 - sh);
    q[j] = v & mask;
  }
}

// count codes (< 2^W each) -> ceil(count*W/32) words.
template <uint32_t W>
void pack_codes(const uint32_t* q, size_t count, uint32_t* words) {
  size_t g = 0;
  for (; g + 32 <= count; g += 32) pack32<W>(q + g, words + g / 32 * W);
  if (g < count) {
    uint32_t tq[32] = {}, tw[W];
    std::memcpy(tq, q + g, 4 * (count - g));
    pack32<W>(tq, tw);
    std::memcpy(words + g / 32 * W, tw, 4 * (((count - g) * W + 31) / 32));
  }
}

// ceil(count*W/32) words -> count codes.
template <uint32_t W>
void unpack_codes(const uint32_t* words, size_t count, uint32_t* q) {
  size_t g = 0;
  for (; g + 32 <= count; g += 32) unpack32<W>(words + g / 32 * W, q + g);
  if (g < count) {
    uint32_t tw[W] = {}, tq[32];
    std::memcpy(tw, words + g / 32 * W, 4 * (((count - g) * W + 31) / 32));
    unpack32<W>(tw, tq);
    std::memcpy(q + g, tq, 4 * (count - g));
  }
}

using PackFn = void (*)(const uint32_t*, size_t, uint32_t*);
using UnpackFn = void (*)(const uint32_t*, size_t, uint32_t*);

template <uint32_t... W>
struct BitpackTable {
  static constexpr PackFn pack[] = {nullptr, &pack_codes<W>...};
  static constexpr UnpackFn unpack[] = {nullptr, &unpack_codes<W>...};
};
using Bitpack = BitpackTable<1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
                             21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31>;

// Width w in 1..31.
inline void pack(const uint32_t* q, size_t count, uint32_t w, uint32_t* words) {
  Bitpack::pack[w](q, count, words);
}
inline void unpack(const uint32_t* words, size_t count, uint32_t w, uint32_t* q) {
  Bitpack::unpack[w](words, count, q);
}

}  // namespace mart::codec::detail
