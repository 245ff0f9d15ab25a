// Branch-free fp32 exp and tanh written so that g++ vectorises a loop that calls them (the
// std:: versions are library calls that stop vectorisation: GELU's std::tanh was 25-42% of a
// GPT-2 CPU step). Only exactly rounded operations (+ - * /, compares, selects, integer
// conversions and shifts) are used, so every ISA that vectorises the caller gives the same bits.
//
// Accuracy against the double-precision functions (tests/kernels/cpu_activation_test.cpp):
//   exp_f32: relative error <= 2^-22 over the whole range, NaN -> NaN, +inf -> +inf, -inf -> 0,
//            overflow to +inf above ~88.72, gradual underflow to 0 below ~-103.9.
//   tanh_f32: relative error <= 2^-21, odd, saturates to exactly +-1, NaN -> NaN.
// Algorithms after Cephes expf/tanhf (range reduction by ln 2 split in two; minimax polynomials).
#pragma once
#include <cstdint>
#include <cstring>

namespace mart::cpu {

#define MART_VEC_INLINE inline __attribute__((always_inline))

// 2^k for an integer k in [-126, 127], built from its exponent bits.
MART_VEC_INLINE float pow2i_f32(int32_t k) {
  const int32_t bits = (k + 127) << 23;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

MART_VEC_INLINE float exp_f32(float x) {
  // Clamp so the reduction stays in range; the ternaries keep NaN (a false compare selects x).
  float xc = x < -104.0f ? -104.0f : x;
  xc = xc > 88.75f ? 88.75f : xc;
  // n = round(x / ln 2) by the 1.5 * 2^23 trick (exact for |n| < 2^22).
  const float kMagic = 12582912.0f;
  float n = (xc * 1.44269504088896341f + kMagic) - kMagic;
  n = n == n ? n : 0.0f;  // NaN: any finite n; the polynomial carries the NaN
  const float r = (xc - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = (p * (r * r) + r) + 1.0f;
  // 2^n in two normal factors, so n in [-150, 128] neither wraps the exponent nor flushes early.
  const int32_t ni = static_cast<int32_t>(n);
  const int32_t n1 = ni / 2;
  return (y * pow2i_f32(n1)) * pow2i_f32(ni - n1);
}

MART_VEC_INLINE float tanh_f32(float x) {
  const float ax = x < 0.0f ? -x : x;
  // |x| >= 0.625: 1 - 2 / (exp(2|x|) + 1), no cancellation there; +-1 exactly once exp overflows.
  const float big = 1.0f - 2.0f / (exp_f32(ax + ax) + 1.0f);
  // |x| < 0.625: odd polynomial x + x^3 P(x^2).
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = (p * z) * x + x;
  // NaN fails ax >= 0.625 and takes the polynomial, which returns NaN; +-0 is returned as is
  // (the polynomial's x^3 P + x would turn -0 into +0).
  return ax >= 0.625f ? (x < 0.0f ? -big : big) : (x == 0.0f ? x : small);
}

// 1 / (1 + exp(-x)), accurate in relative terms on both tails; NaN -> NaN, -inf -> 0, +inf -> 1.
MART_VEC_INLINE float sigmoid_f32(float x) {
  return 1.0f / (1.0f + exp_f32(-x));
}

}  // namespace mart::cpu
