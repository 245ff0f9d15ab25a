// Format, validation, determinism, ratios and idempotence of the CPU codec.
#include <omp.h>

#include <string>

#include "codec_test_util.h"
#include "common/dtype.h"
#include "kernels/codec_format.h"

namespace mart::codec::test {
namespace {

std::string error_of(const std::vector<uint8_t>& enc, size_t size) {
  std::vector<float> y(1 << 16);
  try {
    decode(enc.data(), size, y.data());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(CodecFormat, HeaderFields) {
  const auto x = normals(1000, 0.0f, 1.0f, 1);
  const auto enc = encode_vec(x, 0.01f);
  const Header h = read_header(enc.data(), enc.size());
  EXPECT_EQ(detail::get_le<uint32_t>(enc.data()), kMagic);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(enc.data()), 4), "MCDC");
  EXPECT_EQ(h.n, 1000u);
  EXPECT_EQ(h.eb, 0.01f);
  EXPECT_EQ(h.nblocks, 4u);
  EXPECT_EQ(h.total_bytes, enc.size());
  EXPECT_EQ(h.total_bytes, layout(1000).payload + h.payload_bytes);
  EXPECT_EQ(layout(1000).payload % 8, 0u);
}

TEST(CodecFormat, CompressionRatioOnNormals) {
  const auto x = normals(1 << 16, 0.0f, 1.0f, 2);
  const auto e2 = expect_roundtrip(x, 1e-2f);
  const Stats s2 = stats(e2.data(), e2.size());
  EXPECT_GT(s2.ratio, 3.0) << s2.bits_per_value << " bits/value";
  const auto e1 = expect_roundtrip(x, 1e-1f);
  EXPECT_GT(stats(e1.data(), e1.size()).ratio, 4.5);
  const auto e3 = expect_roundtrip(x, 1e-3f);
  EXPECT_GT(stats(e3.data(), e3.size()).ratio, 2.2);
}

TEST(CodecFormat, IndependentOfThreadCount) {
  const auto x = normals(100000, 0.1f, 3.0f, 3);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto a = encode_vec(x, 1e-2f);
  omp_set_num_threads(2);
  const auto b = encode_vec(x, 1e-2f);
  omp_set_num_threads(7);
  const auto c = encode_vec(x, 1e-2f);
  omp_set_num_threads(saved);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
}

TEST(CodecFormat, MaxEncodedBytesIsEnoughForRawData) {
  std::vector<float> x(1000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = (i % 2 ? 1e30f : -1e30f);
  const auto enc = encode_vec(x, 1e-3f);
  EXPECT_EQ(enc.size(), max_encoded_bytes(x.size()));
}

// Re-encoding reconstructed data reproduces it bit for bit (codes are stable under re-encoding).
TEST(CodecFormat, DecodeEncodeIsIdempotentOnReconstructedData) {
  for (float eb : {1e-3f, 1e-2f, 1e-1f, 0.5f}) {
    const auto x = normals(20000, 0.3f, 1.0f, 4);
    const auto y = decode_vec(encode_vec(x, eb));
    const auto e2 = expect_roundtrip(y, eb);
    const auto z = decode_vec(e2);
    size_t diff = 0;
    for (size_t i = 0; i < y.size(); ++i) diff += bits(y[i]) != bits(z[i]);
    EXPECT_EQ(diff, 0u) << "eb " << eb;
  }
}

TEST(CodecFormat, Bf16InputMatchesItsFp32Expansion) {
  const auto x = normals(3000, 0.0f, 2.0f, 5);
  std::vector<uint16_t> h(x.size());
  std::vector<float> xf(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    h[i] = f32_to_bf16(x[i]);
    xf[i] = bf16_to_f32(h[i]);
  }
  h[17] = 0x7fc0;  // NaN
  xf[17] = bf16_to_f32(h[17]);
  std::vector<uint8_t> eh(max_encoded_bytes(h.size()));
  eh.resize(encode_bf16(h.data(), h.size(), 1e-2f, eh.data()));
  auto ef = encode_vec(xf, 1e-2f);
  ASSERT_EQ(eh.size(), ef.size());
  EXPECT_EQ(read_header(eh.data(), eh.size()).flags, kSourceBf16);
  const double fp32_ratio = stats(ef.data(), ef.size()).ratio;
  ef[12] |= kSourceBf16;  // the only difference: the header's source flag
  EXPECT_EQ(eh, ef);
  const auto y = decode_vec(eh);
  for (size_t i = 0; i < y.size(); ++i)
    if (i != 17) {
      EXPECT_TRUE(within_exact(xf[i], y[i], 1e-2f)) << i;
    }
  EXPECT_EQ(bits(y[17]), bits(xf[17]));
  EXPECT_NEAR(stats(eh.data(), eh.size()).ratio * 2, fp32_ratio, 1e-9);
}

TEST(CodecFormat, ShortBuffersAreRejected) {
  const auto enc = encode_vec(normals(700, 0.0f, 1.0f, 6), 1e-2f);
  EXPECT_NE(error_of(enc, 10).find("shorter than the 48-byte header"), std::string::npos);
  for (size_t size = kHeaderBytes; size < enc.size(); size += 7)
    EXPECT_NE(error_of(enc, size).find("buffer too short"), std::string::npos) << size;
  EXPECT_EQ(error_of(enc, enc.size()), "");
}

TEST(CodecFormat, CorruptHeadersAreRejected) {
  const auto enc = encode_vec(normals(700, 0.0f, 1.0f, 7), 1e-2f);
  auto bad = [&](size_t at, uint8_t v) {
    auto c = enc;
    c[at] = v;
    return error_of(c, c.size());
  };
  EXPECT_NE(bad(0, 'X').find("bad magic"), std::string::npos);
  EXPECT_NE(bad(4, 9).find("unsupported format version 9"), std::string::npos);
  EXPECT_NE(bad(8, 1).find("block_size"), std::string::npos);
  EXPECT_NE(bad(12, 0x80).find("unknown flags"), std::string::npos);
  EXPECT_NE(bad(17, 0xff).find("nblocks"), std::string::npos);
  EXPECT_NE(bad(27, 0xff).find("error bound"), std::string::npos);  // eb = NaN
  EXPECT_NE(bad(32, 0x01).find("total_bytes"), std::string::npos);
}

TEST(CodecFormat, CorruptMetadataIsRejected) {
  const auto enc = encode_vec(normals(700, 0.0f, 1.0f, 8), 1e-2f);
  const Layout l = layout(700);
  auto bad = [&](size_t at, uint8_t v) {
    auto c = enc;
    c[at] = v;
    return error_of(c, c.size());
  };
  EXPECT_NE(bad(l.widths + 1, 40).find("width 40 > 32"), std::string::npos);
  EXPECT_NE(bad(l.widths + 1, 3).find("block 1 spans"), std::string::npos);
  EXPECT_NE(bad(l.widths + 1, 32).find("raw flag"), std::string::npos);
  EXPECT_NE(bad(l.bflags + 2, 0x40).find("unknown flags"), std::string::npos);
  EXPECT_NE(bad(l.bflags + 2, kFallback).find("not raw"), std::string::npos);
  EXPECT_NE(bad(l.offsets + 8, 0x01).find("spans"), std::string::npos);
  EXPECT_NE(bad(l.offsets, 0x01).find("offsets[0]"), std::string::npos);
  auto nan_base = enc;
  nan_base[l.bases + 4 * 1 + 3] = 0x7f;
  nan_base[l.bases + 4 * 1 + 2] = 0xc0;
  EXPECT_NE(error_of(nan_base, nan_base.size()).find("block 1 base"), std::string::npos);
  // Every single-byte change in the header and metadata is caught or harmless (no crash).
  for (size_t at = 0; at < l.payload; ++at) {
    auto c = enc;
    c[at] ^= 0x5a;
    std::vector<float> y(700);
    try {
      decode(c.data(), c.size(), y.data());
    } catch (const Error&) {
    }
  }
}

TEST(CodecFormat, UnsizedDecodeMatchesSized) {
  const auto x = normals(1234, 0.0f, 1.0f, 9);
  const auto enc = encode_vec(x, 1e-3f);
  std::vector<float> a(x.size()), b(x.size());
  decode(enc.data(), enc.size(), a.data());
  decode(enc.data(), b.data());
  EXPECT_EQ(a, b);
}

TEST(CodecFormat, StatsCountBlockKinds) {
  auto x = normals(256 * 6, 0.0f, 1.0f, 10);
  for (size_t i = 256; i < 512; ++i) x[i] = 2.0f;                  // constant block 1
  x[600] = std::numeric_limits<float>::infinity();                 // non-finite block 2
  for (size_t i = 768; i < 1024; ++i) x[i] = (i % 2 ? 1e30f : 0);  // fallback block 3
  const auto enc = expect_roundtrip(x, 1e-2f);
  const Stats s = stats(enc.data(), enc.size());
  EXPECT_EQ(s.blocks, 6u);
  EXPECT_EQ(s.constant_blocks, 1u);
  EXPECT_EQ(s.nonfinite_blocks, 1u);
  EXPECT_EQ(s.fallback_blocks, 1u);
  EXPECT_EQ(s.raw_blocks, 2u);
  EXPECT_EQ(s.encoded_bytes, enc.size());
  EXPECT_EQ(s.source_bytes, 4u * x.size());
}

}  // namespace
}  // namespace mart::codec::test

namespace mart::codec::test {
namespace {

// A frozen encoding: data made from integer arithmetic only (no compiler- or ISA-dependent
// float code), hashed. Catches any change of the format or of the per-value arithmetic, e.g.
// FMA contraction creeping into an -march=native build. Update only with a format version bump.
uint64_t fnv1a(const std::vector<uint8_t>& v) {
  uint64_t h = 1469598103934665603ull;
  for (uint8_t c : v) h = (h ^ c) * 1099511628211ull;
  return h;
}

TEST(CodecFormat, GoldenEncoding) {
  const auto x = integer_made_data(10000);
  EXPECT_EQ(fnv1a(encode_vec(x, 1e-2f)), 988431823385517923ull);
  EXPECT_EQ(fnv1a(encode_vec(x, 1e-3f)), 5849630681074141773ull);
  // At 5e-7 (about the fp32 resolution of the data) blocks take the half-step and raw paths too.
  const auto fine = encode_vec(x, 5e-7f);
  const Stats st = stats(fine.data(), fine.size());
  EXPECT_GT(st.half_step_blocks, 0u);
  EXPECT_GT(st.fallback_blocks, 0u);
  EXPECT_EQ(fnv1a(fine), 7123944108925900605ull);
}

}  // namespace
}  // namespace mart::codec::test
