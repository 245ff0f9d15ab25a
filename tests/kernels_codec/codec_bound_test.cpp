// The error bound |x - decode(encode(x))| <= eb on ordinary and adversarial inputs (CPU codec).
#include <cfloat>
#include <limits>

#include "codec_test_util.h"
#include "kernels/codec_math.h"

namespace mart::codec::test {
namespace {

TEST(CodecBound, RandomNormalsAtManyScales) {
  const float scales[] = {1e-38f, 1e-20f, 1e-6f, 1e-3f, 1.0f, 1e3f, 1e6f, 1e20f, 1e35f};
  const float rel_ebs[] = {1e-6f, 1e-4f, 1e-3f, 1e-2f, 1e-1f, 1.0f, 10.0f};
  uint64_t seed = 1;
  for (float scale : scales) {
    for (float rel : rel_ebs) {
      const auto x = normals(5003, 0.5f * scale, scale, seed++);
      const float eb = rel * scale;
      if (!(eb > 0)) continue;
      SCOPED_TRACE(testing::Message() << "scale " << scale << " eb " << eb);
      const auto enc = expect_roundtrip(x, eb);
      const Stats st = stats(enc.data(), enc.size());
      EXPECT_EQ(st.nonfinite_blocks, 0u);
      // With eb well above the fp32 resolution of the data every block is coded.
      if (rel >= 1e-4f) {
        EXPECT_EQ(st.raw_blocks, 0u);
      }
    }
  }
}

TEST(CodecBound, ConstantTensorsHaveZeroWidth) {
  for (float c : {3.25f, -1e-3f, 0.0f, 1e30f, -7.0f}) {
    std::vector<float> x(1000, c);
    const auto enc = expect_roundtrip(x, 1e-3f);
    const Stats st = stats(enc.data(), enc.size());
    EXPECT_EQ(st.constant_blocks, st.blocks);
    EXPECT_EQ(enc.size(), layout(x.size()).payload);  // no payload at all
    for (float y : decode_vec(enc)) EXPECT_EQ(bits(y), bits(c));
  }
}

TEST(CodecBound, NegativeZeroConstantKeepsItsSign) {
  std::vector<float> x(300, -0.0f);
  for (float y : decode_vec(expect_roundtrip(x, 0.5f))) EXPECT_EQ(bits(y), 0x80000000u);
}

TEST(CodecBound, SignedZerosMixed) {
  std::vector<float> x(777);
  for (size_t i = 0; i < x.size(); ++i) x[i] = (i % 3 == 0) ? -0.0f : (i % 3 == 1 ? 0.0f : 1e-3f);
  expect_roundtrip(x, 1e-4f);
  expect_roundtrip(x, 1e-3f);
  expect_roundtrip(x, 1e-45f);
}

TEST(CodecBound, HugeRangesFallBackToRaw) {
  std::vector<float> x(1024);
  for (size_t i = 0; i < x.size(); ++i) x[i] = (i % 2 ? 1e30f : -1e30f) * (1.0f + i * 1e-3f);
  const auto enc = expect_roundtrip(x, 1e-3f);
  const Stats st = stats(enc.data(), enc.size());
  EXPECT_EQ(st.fallback_blocks, st.blocks);
  const auto y = decode_vec(enc);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(bits(y[i]), bits(x[i]));
  // x - base overflows fp32 here.
  expect_roundtrip({FLT_MAX, -FLT_MAX, 0.0f, 1.0f}, 1.0f);
  expect_roundtrip({FLT_MAX, -FLT_MAX, 0.0f, 1.0f}, FLT_MAX);
  expect_roundtrip({FLT_MAX, -FLT_MAX, 0.0f, 1.0f}, 1e38f);
}

TEST(CodecBound, ValuesNearTheBlockBase) {
  std::vector<float> x;
  const float base = 1.0f;
  float v = base;
  for (int i = 0; i < 600; ++i) {
    x.push_back(v);
    v = std::nextafter(v, 2.0f);
  }
  for (float eb : {1e-9f, 1e-7f, 6e-8f, 1e-5f}) expect_roundtrip(x, eb);
  for (auto& y : x) y = -y;
  for (float eb : {1e-9f, 1e-7f, 6e-8f, 1e-5f}) expect_roundtrip(x, eb);
}

// x = base + (k + 1/2) * s: exact ties when s is a power of two, near ties (rounded in fp32 and in
// double) otherwise. The bound must hold and no block should need the raw fallback.
TEST(CodecBound, ValuesOnRoundingTies) {
  for (float eb : {0.0078125f, 0.01f, 0.1f, 1e-3f, 3.3e-4f, 0.37f}) {
    const float s = 2 * eb;
    for (float base : {0.0f, -1.0f, 0.3f, -100.0f}) {
      std::vector<float> xf, xd;
      for (int k = 0; k < 1000; ++k) {
        xf.push_back(base + (k + 0.5f) * s);
        xd.push_back(static_cast<float>(base + (k + 0.5) * static_cast<double>(s)));
      }
      xf[0] = xd[0] = base;  // make base the block minimum
      SCOPED_TRACE(testing::Message() << "eb " << eb << " base " << base);
      for (const auto* x : {&xf, &xd}) {
        const auto enc = expect_roundtrip(*x, eb);
        EXPECT_EQ(stats(enc.data(), enc.size()).raw_blocks, 0u);
      }
    }
  }
}

TEST(CodecBound, Denormals) {
  std::vector<float> x;
  for (int i = 0; i < 1000; ++i) x.push_back(from_bits(static_cast<uint32_t>(i * 8191 % 0x7fffff)));
  for (int i = 0; i < 200; ++i) x.push_back(-from_bits(static_cast<uint32_t>(i * 31 + 1)));
  x.push_back(FLT_MIN);
  for (float eb : {1e-45f, 1e-44f, 1e-40f, 1e-39f, FLT_MIN, 1.0f}) {
    SCOPED_TRACE(testing::Message() << "eb " << eb);
    expect_roundtrip(x, eb);
  }
  // Denormal data at a coarse bound compresses to zero width.
  const auto enc = expect_roundtrip(x, 1e-30f);
  EXPECT_EQ(stats(enc.data(), enc.size()).constant_blocks, stats(enc.data(), enc.size()).blocks);
}

TEST(CodecBound, NanAndInfBlocksAreRawAndBitwiseEqual) {
  auto x = normals(2048, 0.0f, 1.0f, 7);
  x[5] = std::numeric_limits<float>::quiet_NaN();
  x[300] = from_bits(0x7fa00001u);  // signalling NaN payload
  x[301] = from_bits(0xffc12345u);  // negative NaN with payload
  x[700] = std::numeric_limits<float>::infinity();
  x[1500] = -std::numeric_limits<float>::infinity();
  const auto enc = expect_roundtrip(x, 1e-2f);
  const Stats st = stats(enc.data(), enc.size());
  EXPECT_EQ(st.nonfinite_blocks, 4u);  // blocks 0, 1, 2, 5
  EXPECT_EQ(st.raw_blocks, 4u);
  const auto y = decode_vec(enc);
  for (size_t b : {0u, 1u, 2u, 5u})
    for (size_t i = b * kBlock; i < (b + 1) * kBlock; ++i) EXPECT_EQ(bits(y[i]), bits(x[i]));
}

TEST(CodecBound, LengthsNotAMultipleOfTheBlock) {
  for (size_t n : {0u, 1u, 2u, 31u, 255u, 256u, 257u, 511u, 1000u, 4097u}) {
    SCOPED_TRACE(testing::Message() << "n " << n);
    const auto x = normals(n, 1.0f, 2.0f, n + 11);
    const auto enc = expect_roundtrip(x, 1e-2f);
    EXPECT_EQ(read_header(enc.data(), enc.size()).n, n);
  }
  std::vector<uint8_t> out(max_encoded_bytes(0));
  EXPECT_EQ(encode(nullptr, 0, 1.0f, out.data()), layout(0).payload);
  decode(out.data(), out.size(), nullptr);
}

TEST(CodecBound, TinyAndLargeBounds) {
  const auto x = normals(3000, 0.0f, 1.0f, 3);
  for (float eb : {1e-45f, 1e-30f, 1e-8f, 1e-7f, 1e3f, 1e30f, FLT_MAX}) {
    SCOPED_TRACE(testing::Message() << "eb " << eb);
    const auto enc = expect_roundtrip(x, eb);
    const Stats st = stats(enc.data(), enc.size());
    if (eb >= 1e3f) {
      EXPECT_EQ(st.constant_blocks, st.blocks);
    }
    if (eb <= 1e-30f) {
      EXPECT_EQ(st.fallback_blocks, st.blocks);
    }
  }
}

TEST(CodecBound, InvalidBoundIsRejected) {
  std::vector<float> x(10, 1.0f);
  std::vector<uint8_t> out(max_encoded_bytes(x.size()));
  for (float eb : {0.0f, -1.0f, std::numeric_limits<float>::quiet_NaN(),
                   std::numeric_limits<float>::infinity()})
    EXPECT_THROW(encode(x.data(), x.size(), eb, out.data()), Error) << eb;
}

// The exact bound check itself, on cases where fp32 subtraction rounds onto eb.
TEST(CodecBound, WithinIsExactAtTheBoundary) {
  using detail::within;
  // 1 - (0.5 - 2^-25) = 0.5 + 2^-25 rounds (tie to even) to 0.5 == eb, but exceeds it.
  EXPECT_FALSE(within(1.0f, 0.5f - 0x1p-25f, 0.5f));
  EXPECT_FALSE(within(0.5f - 0x1p-25f, 1.0f, 0.5f));
  EXPECT_TRUE(within(1.0f, 0.5f + 0x1p-24f, 0.5f));
  EXPECT_TRUE(within(0.25f, 0.0f, 0.25f));
  EXPECT_TRUE(within(-0.25f, 0.0f, 0.25f));
  EXPECT_FALSE(within(0.25f, -0x1p-149f, 0.25f));
  std::mt19937_64 rng(5);
  for (int i = 0; i < 200000; ++i) {
    const float x = from_bits(static_cast<uint32_t>(rng()) & 0xbfffffffu);  // finite
    const float r = std::nextafter(x, 0.0f) * (1 + 1e-3f * static_cast<float>(rng() % 5));
    const float eb = std::fabs(x - r);
    if (!(eb > 0) || !std::isfinite(eb)) continue;
    ASSERT_EQ(within(x, r, eb), within_exact(x, r, eb)) << x << " " << r << " " << eb;
  }
}

}  // namespace
}  // namespace mart::codec::test
