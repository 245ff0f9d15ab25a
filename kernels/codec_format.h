// Byte-level helpers for the codec format (kernels/codec.h), shared by the CPU encoder and the
// CUDA kernels (the header is written on the device there). Explicit little-endian byte order.
#pragma once
#include <cstdint>

#include "kernels/codec.h"
#include "kernels/codec_math.h"

namespace mart::codec::detail {

template <class T>
MART_CODEC_HD void put_le(uint8_t* p, T v) {
  for (unsigned i = 0; i < sizeof(T); ++i)
    p[i] = static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i));
}
template <class T>
MART_CODEC_HD T get_le(const uint8_t* p) {
  uint64_t v = 0;
  for (unsigned i = 0; i < sizeof(T); ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return static_cast<T>(v);
}

// Writes the 48-byte header (codec.h) and zeroes the padding between the block flags and the
// payload, so every byte of an encoding is defined.
MART_CODEC_HD void write_header(uint8_t* out, uint64_t n, float eb, uint32_t flags,
                                uint64_t payload_bytes) {
  const Layout l = layout(n);
  put_le<uint32_t>(out + 0, kMagic);
  put_le<uint16_t>(out + 4, kVersion);
  put_le<uint16_t>(out + 6, static_cast<uint16_t>(kHeaderBytes));
  put_le<uint32_t>(out + 8, kBlock);
  put_le<uint32_t>(out + 12, flags);
  put_le<uint64_t>(out + 16, n);
  put_le<uint32_t>(out + 24, bits_of(eb));
  put_le<uint32_t>(out + 28, static_cast<uint32_t>(l.nblocks));
  put_le<uint64_t>(out + 32, payload_bytes);
  put_le<uint64_t>(out + 40, l.payload + payload_bytes);
  for (uint64_t p = l.bflags + l.nblocks; p < l.payload; ++p) out[p] = 0;
}

}  // namespace mart::codec::detail
