// Helpers shared by the codec tests: data generators, an independent exact bound check, and
// encode/decode round trips.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "common/error.h"
#include "kernels/codec.h"

namespace mart::codec::test {

inline uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// |x - r| <= eb in (effectively) exact arithmetic: long double holds the difference of two floats
// exactly unless their exponents are > 40 apart, where the comparison is far from an equality.
inline bool within_exact(float x, float r, float eb) {
  const long double d = static_cast<long double>(x) - static_cast<long double>(r);
  return std::fabs(d) <= static_cast<long double>(eb);
}

inline std::vector<float> normals(size_t n, float mean, float stddev, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(mean, stddev);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Data from integer arithmetic only (identical on every compiler and ISA): signs and mantissas
// from an LCG, |x| in [2^-9, 2^3).
inline std::vector<float> integer_made_data(size_t n) {
  std::vector<float> x(n);
  uint64_t s = 12345;
  for (size_t i = 0; i < n; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    const uint32_t r = static_cast<uint32_t>(s >> 32);
    const uint32_t exponent = 118 + (r >> 24) % 12;  // |x| in [2^-9, 2^3)
    x[i] = from_bits((r & 0x80000000u) | (exponent << 23) | (r & 0x7fffffu));
  }
  return x;
}

inline std::vector<uint8_t> encode_vec(const std::vector<float>& x, float eb) {
  std::vector<uint8_t> out(max_encoded_bytes(x.size()));
  out.resize(encode(x.data(), x.size(), eb, out.data()));
  return out;
}

inline std::vector<float> decode_vec(const std::vector<uint8_t>& enc) {
  const Header h = read_header(enc.data(), enc.size());
  std::vector<float> y(h.n);
  decode(enc.data(), enc.size(), y.data());
  return y;
}

// Encodes, decodes, and checks the bound for every finite value and bitwise equality for every
// non-finite one. Returns the encoding for further checks.
inline std::vector<uint8_t> expect_roundtrip(const std::vector<float>& x, float eb) {
  std::vector<uint8_t> enc = encode_vec(x, eb);
  EXPECT_LE(enc.size(), max_encoded_bytes(x.size()));
  const std::vector<float> y = decode_vec(enc);
  EXPECT_EQ(y.size(), x.size());
  size_t bad = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
    const bool ok = std::isfinite(x[i]) ? within_exact(x[i], y[i], eb) : bits(x[i]) == bits(y[i]);
    if (!ok && bad++ < 5)
      ADD_FAILURE() << "value " << i << ": x = " << x[i] << " (0x" << std::hex << bits(x[i])
                    << "), decoded " << y[i] << " (0x" << bits(y[i]) << std::dec
                    << "), eb = " << eb;
  }
  EXPECT_EQ(bad, 0u) << "values out of bound (eb = " << eb << ", n = " << x.size() << ")";
  return enc;
}

}  // namespace mart::codec::test
