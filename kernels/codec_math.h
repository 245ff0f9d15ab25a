// The codec's per-value arithmetic, shared verbatim by the CPU encoder/decoder (g++) and the CUDA
// kernels (nvcc device code), so both produce the same codes and reconstructions bit for bit.
// Every fp32 operation is an explicit call below: in device code the __f*_rn intrinsics (IEEE
// round-to-nearest-even, never fused into FMA), on the host plain SSE arithmetic (IEEE RNE).
// Including translation units compiled by GCC must switch contraction off (codec_cpu.cpp does
// `#pragma GCC optimize("fp-contract=off")`: with -march=native GCC would otherwise fuse
// recon()'s multiply and add into an FMA and break bit-identity with the GPU).
//
// ---- Proof of the bound ----------------------------------------------------------------------
// Notation: RN(y) rounds a real y to the nearest fp32 (ties to even); a (+) b = RN(a + b) etc.
// Both backends compute exactly these (IEEE 754 binary32, subnormals kept: no FTZ/DAZ).
//  L1 (monotonicity) RN is non-decreasing and RN(f) = f for every float f. So for a real D and a
//     float eb: RN(D) < eb implies D < eb, and RN(D) > eb implies D > eb (if D >= eb then
//     RN(D) >= RN(eb) = eb). Same on the negative side (RN is odd-symmetric).
//  L2 (TwoSum, Knuth) for floats a, b: s = a (+) b, b' = s (-) a, a' = s (-) b',
//     t = (a (-) a') (+) (b (-) b') satisfies a + b = s + t exactly, barring overflow; a
//     non-finite t is treated as "reject" below, which is always safe.
//  within(x, r, eb): e = x (-) r. If |e| < eb then |x - r| < eb (L1). If |e| > eb then |x - r| > eb
//     (L1). If |e| == eb then x - r = e + t exactly (L2) and |x - r| <= eb iff t == 0 or t has the
//     sign opposite to e. So within() returns true iff |x - r| <= eb in exact real arithmetic.
//  Theorem. The encoder stores code q for a finite x only after within(x, recon(base, q, s), eb)
//     returned true, and the decoder computes recon(base, q, s) with the same function (same
//     base, q, s from the encoding), so every decoded finite value satisfies |x - x'| <= eb.
//     Raw blocks decode bitwise. No assumption about how large rounding errors are is needed.
//  Efficiency (why raw fallback is rare, not needed for correctness): in exact arithmetic the
//     nearest code has |x - (base + q s)| <= s/2 = eb. The fp32 steps (subtract, divide, round,
//     multiply, add) perturb the reconstruction by a few ulp of M = max(|x|, |base|), so the first
//     candidate fails only within O(2^-24 M) of a tie; the neighbour q -+ 1 fixes a code that the
//     rounded quotient put on the wrong side. At genuine near-ties both neighbours can miss by an
//     ulp; the block is then re-coded with step s/2 (max exact error eb/2, a margin of eb/2 for
//     rounding), which fails only when eb is within a few ulp of M (data at fp32 resolution) or
//     codes do not fit 31 bits. Those blocks go raw.
#pragma once
#include <cstdint>
#include <cstring>

// Internal linkage: every translation unit keeps its own copies, compiled with its own options
// (codec_cpu.cpp's no-contraction pragma), never a comdat copy from another file.
#if defined(__CUDACC__)
#define MART_CODEC_HD static __host__ __device__ __forceinline__
#else
#define MART_CODEC_HD static inline
#endif

namespace mart::codec::detail {

inline constexpr float kTwo23 = 8388608.0f;     // 2^23
inline constexpr float kTwo31 = 2147483648.0f;  // 2^31: codes must stay below (width <= 31)
inline constexpr float kFltMax = 3.40282347e38f;

MART_CODEC_HD float fadd(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
MART_CODEC_HD float fsub(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
MART_CODEC_HD float fmul(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
MART_CODEC_HD float fdiv(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
MART_CODEC_HD uint32_t bits_of(float f) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}
MART_CODEC_HD float float_of(uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}
// Exact conversion of a code (q < 2^31, so the signed conversion applies; RNE above 2^24).
MART_CODEC_HD float code_to_float(uint32_t q) {
#ifdef __CUDA_ARCH__
  return __int2float_rn(static_cast<int>(q));
#else
  return static_cast<float>(static_cast<int32_t>(q));
#endif
}
MART_CODEC_HD float fabs_exact(float f) {
  return float_of(bits_of(f) & 0x7fffffffu);
}
MART_CODEC_HD bool is_finite_bits(uint32_t u) {
  return (u & 0x7f800000u) != 0x7f800000u;
}

// Total order on finite floats as unsigned integers (-0 below +0): min over keys is associative
// and commutative, so a tree reduction (GPU) and a loop (CPU) pick the same base.
MART_CODEC_HD uint32_t order_key(uint32_t u) {
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
MART_CODEC_HD uint32_t key_to_bits(uint32_t k) {
  return (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
}

// Quantisation step for bound eb: s = 2 (*) eb, exact unless it overflows (then FLT_MAX, so that
// 0 * s stays 0). The half step (kHalfStep blocks) is s (*) 0.5.
MART_CODEC_HD float step_for(float eb) {
  float s = fmul(2.0f, eb);
  return s > kFltMax ? kFltMax : s;
}
MART_CODEC_HD float half_step(float s) {
  return fmul(s, 0.5f);
}

// Round-half-even of 0 <= t < 2^31: below 2^23, t (+) 2^23 lands in [2^23, 2^24) where the fp32
// spacing is 1, so RN rounds t to an integer (ties to even: 2^23 is even) and (-) 2^23 is exact;
// at or above 2^23 every float is already an integer.
// (Both sides are computed, then selected: branch-free, so the CPU loop vectorises.)
MART_CODEC_HD float round_half_even(float t) {
  const float r = fsub(fadd(t, kTwo23), kTwo23);
  return t < kTwo23 ? r : t;
}

// The quotient the first candidate code rounds: (x (-) base) (/) s; >= +0 since x >= base.
MART_CODEC_HD float code_ratio(float x, float base, float s) {
  return fdiv(fsub(x, base), s);
}

// The reconstruction, identical in encoder (verification) and decoder.
MART_CODEC_HD float recon(float base, uint32_t q, float s) {
  const float r = fadd(base, fmul(code_to_float(q), s));
  return q == 0 ? base : r;
}

// Exact test of |x - r| <= eb (see the proof above).
MART_CODEC_HD bool within(float x, float r, float eb) {
  const float e = fsub(x, r);
  const float ae = fabs_exact(e);
  if (ae < eb) return true;
  if (!(ae == eb)) return false;  // larger, or NaN/Inf
  const float bp = fsub(e, x);    // TwoSum(a = x, b = -r): b' = s - a
  const float ap = fsub(e, bp);   // a' = s - b'
  const float t = fadd(fsub(x, ap), fsub(-r, bp));
  if (!(fabs_exact(t) <= kFltMax)) return false;
  return t == 0.0f || ((t < 0.0f) != (e < 0.0f));
}

// The code of a finite x >= base, or false if none meets the bound: the rounded quotient first,
// then its lower, then its upper neighbour (this order is part of the format's determinism).
MART_CODEC_HD bool code_value(float x, float base, float s, float eb, uint32_t* q_out) {
  const float t = code_ratio(x, base, s);
  if (!(t < kTwo31)) return false;  // codes would not fit 31 bits (or x - base overflowed)
  const uint32_t q = static_cast<uint32_t>(round_half_even(t));  // exact: an integer < 2^31
  if (within(x, recon(base, q, s), eb)) {
    *q_out = q;
    return true;
  }
  if (q > 0 && within(x, recon(base, q - 1, s), eb)) {
    *q_out = q - 1;
    return true;
  }
  if (q < 0x7fffffffu && within(x, recon(base, q + 1, s), eb)) {
    *q_out = q + 1;
    return true;
  }
  return false;
}

// Bits needed for the largest code (0 for a constant block).
MART_CODEC_HD uint32_t bit_width(uint32_t v) {
#ifdef __CUDA_ARCH__
  return 32u - static_cast<uint32_t>(__clz(v));
#else
  return v == 0 ? 0u : 32u - static_cast<uint32_t>(__builtin_clz(v));
#endif
}

}  // namespace mart::codec::detail
