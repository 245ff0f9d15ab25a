// Codec format: sizes, header parsing and full validation of an encoding (kernels/codec.h).
#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "kernels/codec.h"
#include "kernels/codec_format.h"

namespace mart::codec {

using detail::get_le;

namespace {
// Largest n a header may claim (2^40 values = 4 TiB of fp32): keeps the layout arithmetic of a
// corrupt header from overflowing.
constexpr uint64_t kMaxN = uint64_t{1} << 40;
}  // namespace

size_t max_encoded_bytes(size_t n) {
  MART_CHECK(n <= kMaxN, "codec: n = ", n, " exceeds the format's limit of ", kMaxN, " values");
  return static_cast<size_t>(layout(n).max_total);
}

Header read_header(const uint8_t* in, size_t in_bytes) {
  MART_CHECK(in != nullptr, "codec: null input buffer");
  MART_CHECK(in_bytes >= kHeaderBytes, "codec: buffer of ", in_bytes, " bytes is shorter than the ",
             kHeaderBytes, "-byte header (truncated encoding?)");
  const uint32_t magic = get_le<uint32_t>(in);
  MART_CHECK(magic == kMagic, "codec: bad magic 0x", std::hex, magic, " (expected 0x", kMagic,
             "): not a MART activation-codec encoding");
  const uint16_t version = get_le<uint16_t>(in + 4);
  MART_CHECK(version == kVersion, "codec: unsupported format version ", version,
             " (this build reads version ", kVersion, ")");
  const uint16_t hbytes = get_le<uint16_t>(in + 6);
  MART_CHECK(hbytes == kHeaderBytes, "codec: corrupt header: header_bytes = ", hbytes,
             ", expected ", kHeaderBytes);
  const uint32_t block = get_le<uint32_t>(in + 8);
  MART_CHECK(block == kBlock, "codec: corrupt header: block_size = ", block, ", expected ", kBlock);
  Header h;
  h.flags = get_le<uint32_t>(in + 12);
  MART_CHECK((h.flags & ~kSourceBf16) == 0, "codec: corrupt header: unknown flags 0x", std::hex,
             h.flags);
  h.n = get_le<uint64_t>(in + 16);
  MART_CHECK(h.n <= kMaxN, "codec: corrupt header: n = ", h.n, " exceeds the format limit ", kMaxN);
  h.eb = detail::float_of(get_le<uint32_t>(in + 24));
  MART_CHECK(std::isfinite(h.eb) && h.eb > 0, "codec: corrupt header: error bound ", h.eb,
             " is not finite and positive");
  h.nblocks = get_le<uint32_t>(in + 28);
  const Layout l = layout(h.n);
  MART_CHECK(h.nblocks == l.nblocks, "codec: corrupt header: nblocks = ", h.nblocks,
             " but n = ", h.n, " needs ", l.nblocks);
  h.payload_bytes = get_le<uint64_t>(in + 32);
  h.total_bytes = get_le<uint64_t>(in + 40);
  MART_CHECK(h.payload_bytes <= 4 * h.n, "codec: corrupt header: payload of ", h.payload_bytes,
             " bytes exceeds the raw size ", 4 * h.n);
  MART_CHECK(h.total_bytes == l.payload + h.payload_bytes,
             "codec: corrupt header: total_bytes = ", h.total_bytes, ", but the layout gives ",
             l.payload + h.payload_bytes);
  MART_CHECK(h.total_bytes <= in_bytes, "codec: buffer too short: the encoding is ", h.total_bytes,
             " bytes, the buffer holds ", in_bytes, " (truncated?)");
  return h;
}

Header validate(const uint8_t* in, size_t in_bytes) {
  const Header h = read_header(in, in_bytes);
  const Layout l = layout(h.n);
  MART_CHECK(get_le<uint64_t>(in + l.offsets) == 0, "codec: corrupt metadata: offsets[0] != 0");
  uint64_t prev = 0;
  for (uint64_t b = 0; b < l.nblocks; ++b) {
    const uint64_t count = std::min<uint64_t>(kBlock, h.n - b * kBlock);
    const uint32_t w = in[l.widths + b];
    const uint8_t f = in[l.bflags + b];
    MART_CHECK(w <= 32, "codec: corrupt metadata: block ", b, " has width ", w, " > 32");
    MART_CHECK((f & ~(kRaw | kNonFinite | kFallback | kHalfStep)) == 0,
               "codec: corrupt metadata: block ", b, " has unknown flags 0x", std::hex, int{f});
    const bool raw = (f & kRaw) != 0;
    MART_CHECK(raw == (w == 32), "codec: corrupt metadata: block ", b, " width ", w,
               " disagrees with its raw flag");
    MART_CHECK(raw || (f & (kNonFinite | kFallback)) == 0, "codec: corrupt metadata: block ", b,
               " is marked non-finite/fallback but not raw");
    MART_CHECK(!raw || (f & kHalfStep) == 0, "codec: corrupt metadata: raw block ", b,
               " is marked half-step");
    const float base = detail::float_of(get_le<uint32_t>(in + l.bases + 4 * b));
    MART_CHECK(raw || std::isfinite(base), "codec: corrupt metadata: block ", b, " base ", base,
               " is not finite");
    const uint64_t next = get_le<uint64_t>(in + l.offsets + 8 * (b + 1));
    MART_CHECK(next >= prev && next - prev == block_bytes(count, w),
               "codec: corrupt metadata: block ", b, " spans ", next - prev, " payload bytes, its ",
               count, " values at width ", w, " need ", block_bytes(count, w));
    prev = next;
  }
  MART_CHECK(prev == h.payload_bytes, "codec: corrupt metadata: blocks hold ", prev,
             " payload bytes, the header says ", h.payload_bytes);
  return h;
}

Stats stats(const uint8_t* in, size_t in_bytes) {
  const Header h = validate(in, in_bytes);
  const Layout l = layout(h.n);
  Stats s;
  s.n = h.n;
  s.encoded_bytes = h.total_bytes;
  s.source_bytes = h.n * ((h.flags & kSourceBf16) ? 2 : 4);
  s.ratio = static_cast<double>(s.source_bytes) / static_cast<double>(s.encoded_bytes);
  s.bits_per_value =
      h.n ? 8.0 * static_cast<double>(s.encoded_bytes) / static_cast<double>(h.n) : 0;
  s.blocks = l.nblocks;
  for (uint64_t b = 0; b < l.nblocks; ++b) {
    const uint8_t f = in[l.bflags + b];
    s.raw_blocks += (f & kRaw) != 0;
    s.nonfinite_blocks += (f & kNonFinite) != 0;
    s.fallback_blocks += (f & kFallback) != 0;
    s.half_step_blocks += (f & kHalfStep) != 0;
    s.constant_blocks += in[l.widths + b] == 0;
  }
  return s;
}

}  // namespace mart::codec
