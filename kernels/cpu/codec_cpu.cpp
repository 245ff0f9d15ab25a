// CPU activation codec (format and proof: kernels/codec.h, kernels/codec_math.h).
// encode: every block is analysed and packed in parallel into a fixed slot, then a serial pass
// computes the offsets and compacts the payload (encode_impl). decode: validate, then unpack and
// reconstruct blocks in parallel.
// OpenMP over blocks; each block is computed independently, so the output does not depend on the
// thread count.
// Bit-identity with the GPU needs the multiply and add of recon() rounded separately: no FMA
// contraction in this file (GCC contracts across statements when the ISA has FMA). The pragma
// comes before every include, so that codec_math.h's functions carry the same options and inline
// into the loops (GCC does not inline across differing optimize options).
// no-trapping-math only lets GCC if-convert (vectorise) the selects of codec_math.h; it permits
// no value-changing transformation (no reassociation, no finite-math assumptions).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off", "no-trapping-math")
#endif

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "common/error.h"
#include "kernels/codec.h"
#include "kernels/codec_bitpack.h"
#include "kernels/codec_format.h"
#include "kernels/codec_math.h"

static_assert(std::endian::native == std::endian::little, "the codec assumes a little-endian host");

namespace mart::codec {
namespace {

using namespace detail;

struct BlockMeta {
  float base = 0;
  uint8_t width = 0;
  uint8_t flags = 0;
};

void load_block(const float* x, size_t count, float* v) {
  std::memcpy(v, x, 4 * count);
}
void load_block(const uint16_t* x, size_t count, float* v) {
  for (size_t i = 0; i < count; ++i) v[i] = float_of(static_cast<uint32_t>(x[i]) << 16);
}

// Codes of one block for a given base and step (codec_math.h). A vectorisable first pass takes
// the rounded quotient wherever its reconstruction is strictly inside the bound (exactly what
// code_value() accepts first); the few others go through code_value(). False if a value has no
// code.
bool code_block(const float* v, size_t count, float base, float s, float eb, uint32_t* q) {
  uint32_t miss[kBlock];
  uint32_t any_miss = 0;
  for (size_t i = 0; i < count; ++i) {
    const float t = code_ratio(v[i], base, s);
    const bool fits = t < kTwo31;
    const float tc = fits ? t : 0.0f;
    const uint32_t qi = static_cast<uint32_t>(static_cast<int32_t>(round_half_even(tc)));
    const bool inside = fabs_exact(fsub(v[i], recon(base, qi, s))) < eb;
    const uint32_t m = static_cast<uint32_t>(!(fits & inside));
    q[i] = qi;
    miss[i] = m;
    any_miss |= m;
  }
  if (!any_miss) return true;
  for (size_t i = 0; i < count; ++i)
    if (miss[i] && !code_value(v[i], base, s, eb, &q[i])) return false;
  return true;
}

// Pass 1 for one block: raw for non-finite values, else base = ordered minimum, codes with step s,
// then s/2, then raw fallback (codec.h). Leaves the codes in q.
BlockMeta analyze_block(const float* v, size_t count, float eb, float s, uint32_t* q) {
  // base is the minimum in the order -0 < +0 (codec_math.h order_key, which the GPU reduces). Here:
  // the float minimum (SSE minps where available), then the sign of a zero minimum from "is there
  // a -0" (minps may return either zero). NaN/Inf blocks are discarded before base is used.
  uint32_t nonfinite = 0, neg_zero = 0;
  size_t i = 0;
  float min_v = v[0];
#if defined(__SSE__)
  __m128 m4 = _mm_set1_ps(v[0]);
  for (; i + 4 <= count; i += 4) m4 = _mm_min_ps(_mm_loadu_ps(v + i), m4);
  float lane[4];
  _mm_storeu_ps(lane, m4);
  for (float m : lane) min_v = m < min_v ? m : min_v;
#endif
  for (; i < count; ++i) min_v = v[i] < min_v ? v[i] : min_v;
  for (i = 0; i < count; ++i) {
    const uint32_t u = bits_of(v[i]);
    nonfinite |= static_cast<uint32_t>(!is_finite_bits(u));
    neg_zero |= static_cast<uint32_t>(u == 0x80000000u);
  }
  if (nonfinite) return {0.0f, 32, static_cast<uint8_t>(kRaw | kNonFinite)};
  BlockMeta m;
  m.base = min_v != 0.0f ? min_v : (neg_zero ? -0.0f : 0.0f);
  if (!code_block(v, count, m.base, s, eb, q)) {
    m.flags = kHalfStep;
    if (!code_block(v, count, m.base, half_step(s), eb, q))
      return {0.0f, 32, static_cast<uint8_t>(kRaw | kFallback)};
  }
  uint32_t any_bits = 0;  // bit_width(max q) == bit_width(q_0 | q_1 | ...)
  for (size_t k = 0; k < count; ++k) any_bits |= q[k];
  m.width = static_cast<uint8_t>(bit_width(any_bits));
  return m;
}

// Writes block b's payload (packed codes, or the fp32 bits of a raw block) to dst.
void emit_block(const BlockMeta& m, const float* v, const uint32_t* q, size_t count, uint8_t* dst) {
  if (m.width == 0) return;
  if (m.width == 32) {
    std::memcpy(dst, v, 4 * count);
    return;
  }
  uint32_t words[kBlock];
  pack(q, count, m.width, words);
  std::memcpy(dst, words, block_bytes(count, m.width));
}

// Pass 1 (parallel) analyses each block and packs it into its slot at payload + 4*256*b (the
// payload region holds 4n bytes, so every block fits its slot). The serial pass turns sizes into
// offsets and moves each block down to its offset, in block order: the offset of block b is at
// most its slot, and the end of its data at most the slot of block b+1, so no block overwrites
// data not yet moved (memmove covers the overlap within a block). That move touches only the
// compressed bytes, a few percent of the encode time.
template <class T>
size_t encode_impl(const T* x, size_t n, float eb, uint8_t* out, uint32_t header_flags) {
  MART_CHECK(std::isfinite(eb) && eb > 0, "codec encode: error bound eb = ", eb,
             " must be finite and > 0");
  MART_CHECK(out != nullptr, "codec encode: null output buffer");
  MART_CHECK(x != nullptr || n == 0, "codec encode: null input with n = ", n);
  max_encoded_bytes(n);  // checks n against the format limit
  const Layout l = layout(n);
  const int64_t nb = static_cast<int64_t>(l.nblocks);
  const float s = step_for(eb);
  uint8_t* payload = out + l.payload;
#pragma omp parallel for schedule(static) if (nb > 16)
  for (int64_t b = 0; b < nb; ++b) {
    float v[kBlock];
    uint32_t q[kBlock];
    const size_t count = std::min<size_t>(kBlock, n - static_cast<size_t>(b) * kBlock);
    load_block(x + static_cast<size_t>(b) * kBlock, count, v);
    const BlockMeta m = analyze_block(v, count, eb, s, q);
    emit_block(m, v, q, count, payload + 4 * kBlock * static_cast<size_t>(b));
    put_le<uint32_t>(out + l.bases + 4 * b, bits_of(m.base));
    out[l.widths + b] = m.width;
    out[l.bflags + b] = m.flags;
  }
  uint64_t total = 0;
  put_le<uint64_t>(out + l.offsets, 0);
  for (int64_t b = 0; b < nb; ++b) {
    const size_t count = std::min<size_t>(kBlock, n - static_cast<size_t>(b) * kBlock);
    const uint64_t bytes = block_bytes(count, out[l.widths + b]);
    const uint64_t slot = 4 * kBlock * static_cast<uint64_t>(b);
    if (bytes && total != slot) std::memmove(payload + total, payload + slot, bytes);
    total += bytes;
    put_le<uint64_t>(out + l.offsets + 8 * (b + 1), total);
  }
  write_header(out, n, eb, header_flags, total);
  return static_cast<size_t>(l.payload + total);
}

}  // namespace

size_t encode(const float* x, size_t n, float eb, uint8_t* out) {
  return encode_impl(x, n, eb, out, 0);
}

size_t encode_bf16(const uint16_t* x, size_t n, float eb, uint8_t* out) {
  return encode_impl(x, n, eb, out, kSourceBf16);
}

void decode(const uint8_t* in, size_t in_bytes, float* x) {
  const Header h = validate(in, in_bytes);
  MART_CHECK(x != nullptr || h.n == 0, "codec decode: null output for n = ", h.n);
  const Layout l = layout(h.n);
  const int64_t nb = static_cast<int64_t>(l.nblocks);
  const float s = step_for(h.eb);
#pragma omp parallel for schedule(static) if (nb > 16)
  for (int64_t b = 0; b < nb; ++b) {
    const size_t count = std::min<size_t>(kBlock, h.n - static_cast<size_t>(b) * kBlock);
    float* dst = x + static_cast<size_t>(b) * kBlock;
    const uint32_t w = in[l.widths + b];
    const uint8_t* src = in + l.payload + get_le<uint64_t>(in + l.offsets + 8 * b);
    if (w == 32) {
      std::memcpy(dst, src, 4 * count);
      continue;
    }
    const float base = float_of(get_le<uint32_t>(in + l.bases + 4 * b));
    if (w == 0) {
      std::fill(dst, dst + count, base);
      continue;
    }
    uint32_t words[kBlock];
    uint32_t q[kBlock];
    std::memcpy(words, src, block_bytes(count, w));
    unpack(words, count, w, q);
    const float st = (in[l.bflags + b] & kHalfStep) ? half_step(s) : s;
    for (size_t i = 0; i < count; ++i) dst[i] = recon(base, q[i], st);
  }
}

void decode(const uint8_t* in, float* x) {
  MART_CHECK(in != nullptr, "codec decode: null input buffer");
  // Trusts the header's total_bytes as the buffer size (validate still checks it for consistency).
  decode(in, std::max<size_t>(kHeaderBytes, get_le<uint64_t>(in + 40)), x);
}

}  // namespace mart::codec
