// Fused AdamW: scalar reference, AVX2 and AVX-512F paths, runtime dispatch. See adamw_simd.h.
//
// Why the attributes: the project builds without -march=native, so the vector paths are compiled
// per function with target("avx2") / target("avx512f"). GCC implements _mm*_mul_ps/_add_ps as
// generic vector arithmetic, which it may contract into FMA whenever FMA is enabled (it is with
// MART_NATIVE=ON, and C++ defaults to -ffp-contract=fast). A fused multiply-add rounds once where
// the reference rounds twice, so every function here also carries optimize("fp-contract=off").
#include "kernels/cpu/adamw_simd.h"

// GCC 12 warns that _mm512_undefined_ps() (the pass-through of the unmasked _mm512_sqrt_ps) "may
// be used uninitialized"; it is undefined on purpose and every lane is overwritten.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/error.h"

#define MART_NOCONTRACT __attribute__((optimize("fp-contract=off")))
#define MART_AVX2 __attribute__((target("avx2"), optimize("fp-contract=off")))
#define MART_AVX512 __attribute__((target("avx512f"), optimize("fp-contract=off")))

namespace mart::cpu {
namespace {

enum OutKind { kOutNone = 0, kOutF32 = 1, kOutBf16 = 2 };

OutKind out_kind(const AdamWSpan& s) {
  if (!s.out) return kOutNone;
  return s.out_dtype == DType::F32 ? kOutF32 : kOutBf16;
}

// ---- scalar reference: the operation order of cpu_kernels.h, one element
// -------------------------
MART_NOCONTRACT inline float adamw_one(float grad, float& p, float& m, float& v,
                                       const AdamWConsts& k) {
  const float g = grad * k.grad_scale;
  m = k.beta1 * m + k.one_minus_beta1 * g;
  v = k.beta2 * v + k.one_minus_beta2 * (g * g);
  const float mhat = m / k.bc1;
  const float vhat = v / k.bc2;
  p = p - k.lr * (mhat / (std::sqrt(vhat) + k.eps) + k.weight_decay * p);
  return p;
}

MART_NOCONTRACT void scalar_range(const AdamWSpan& s, size_t i, size_t end, const AdamWConsts& k) {
  const bool bf16_grad = s.grad_dtype == DType::BF16;
  const OutKind ok = out_kind(s);
  for (; i < end; ++i) {
    const float g = bf16_grad ? bf16_to_f32(static_cast<const uint16_t*>(s.grad)[i])
                              : static_cast<const float*>(s.grad)[i];
    const float p = adamw_one(g, s.master[i], s.m[i], s.v[i], k);
    if (ok == kOutF32) static_cast<float*>(s.out)[i] = p;
    if (ok == kOutBf16) static_cast<uint16_t*>(s.out)[i] = f32_to_bf16(p);
  }
}

// ---- AVX-512F: 16 elements per iteration
// ----------------------------------------------------------
template <bool kBf16Grad>
MART_AVX512 inline __m512 load_grad16(const void* grad, size_t i) {
  if constexpr (kBf16Grad) {
    const __m256i h = _mm256_loadu_si256(
        reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(grad) + i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  } else {
    return _mm512_loadu_ps(static_cast<const float*>(grad) + i);
  }
}

// f32_to_bf16 on 16 lanes: NaN -> (u >> 16) | 0x40, else (u + 0x7fff + ((u >> 16) & 1)) >> 16.
MART_AVX512 inline __m256i to_bf16_16(__m512 p) {
  const __m512i u = _mm512_castps_si512(p);
  const __m512i hi = _mm512_srli_epi32(u, 16);
  const __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                                _mm512_set1_epi32(0x7f800000));
  const __m512i bias =
      _mm512_add_epi32(_mm512_set1_epi32(0x7fff), _mm512_and_si512(hi, _mm512_set1_epi32(1)));
  const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(u, bias), 16);
  const __m512i quiet = _mm512_or_si512(hi, _mm512_set1_epi32(0x40));
  return _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(nan, rounded, quiet));
}

template <bool kBf16Grad, int kOut, bool kStream>
MART_AVX512 void avx512_main(const AdamWSpan& s, size_t i, size_t end, const AdamWConsts& k) {
  const __m512 gs = _mm512_set1_ps(k.grad_scale), b1 = _mm512_set1_ps(k.beta1),
               b2 = _mm512_set1_ps(k.beta2), omb1 = _mm512_set1_ps(k.one_minus_beta1),
               omb2 = _mm512_set1_ps(k.one_minus_beta2), bc1 = _mm512_set1_ps(k.bc1),
               bc2 = _mm512_set1_ps(k.bc2), eps = _mm512_set1_ps(k.eps),
               wd = _mm512_set1_ps(k.weight_decay), lr = _mm512_set1_ps(k.lr);
  for (; i + 16 <= end; i += 16) {
    const __m512 g = _mm512_mul_ps(load_grad16<kBf16Grad>(s.grad, i), gs);
    __m512 m = _mm512_loadu_ps(s.m + i);
    __m512 v = _mm512_loadu_ps(s.v + i);
    __m512 p = _mm512_loadu_ps(s.master + i);
    m = _mm512_add_ps(_mm512_mul_ps(b1, m), _mm512_mul_ps(omb1, g));
    v = _mm512_add_ps(_mm512_mul_ps(b2, v), _mm512_mul_ps(omb2, _mm512_mul_ps(g, g)));
    const __m512 mhat = _mm512_div_ps(m, bc1);
    const __m512 vhat = _mm512_div_ps(v, bc2);
    const __m512 den = _mm512_add_ps(_mm512_sqrt_ps(vhat), eps);
    const __m512 upd = _mm512_add_ps(_mm512_div_ps(mhat, den), _mm512_mul_ps(wd, p));
    p = _mm512_sub_ps(p, _mm512_mul_ps(lr, upd));
    _mm512_storeu_ps(s.m + i, m);
    _mm512_storeu_ps(s.v + i, v);
    _mm512_storeu_ps(s.master + i, p);
    if constexpr (kOut == kOutF32) {
      float* o = static_cast<float*>(s.out) + i;
      if constexpr (kStream)
        _mm512_stream_ps(o, p);
      else
        _mm512_storeu_ps(o, p);
    } else if constexpr (kOut == kOutBf16) {
      __m256i* o = reinterpret_cast<__m256i*>(static_cast<uint16_t*>(s.out) + i);
      if constexpr (kStream)
        _mm256_stream_si256(o, to_bf16_16(p));
      else
        _mm256_storeu_si256(o, to_bf16_16(p));
    }
  }
}

// ---- AVX2: 8 elements per iteration
// ---------------------------------------------------------------
template <bool kBf16Grad>
MART_AVX2 inline __m256 load_grad8(const void* grad, size_t i) {
  if constexpr (kBf16Grad) {
    const __m128i h =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(grad) + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  } else {
    return _mm256_loadu_ps(static_cast<const float*>(grad) + i);
  }
}

MART_AVX2 inline __m128i to_bf16_8(__m256 p) {
  const __m256i u = _mm256_castps_si256(p);
  const __m256i hi = _mm256_srli_epi32(u, 16);
  const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                         _mm256_set1_epi32(0x7f800000));
  const __m256i bias =
      _mm256_add_epi32(_mm256_set1_epi32(0x7fff), _mm256_and_si256(hi, _mm256_set1_epi32(1)));
  const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(u, bias), 16);
  const __m256i quiet = _mm256_or_si256(hi, _mm256_set1_epi32(0x40));
  const __m256i r = _mm256_blendv_epi8(rounded, quiet, nan);
  // Every lane is in [0, 0xffff], so the unsigned-saturating pack is exact.
  return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}

template <bool kBf16Grad, int kOut, bool kStream>
MART_AVX2 void avx2_main(const AdamWSpan& s, size_t i, size_t end, const AdamWConsts& k) {
  const __m256 gs = _mm256_set1_ps(k.grad_scale), b1 = _mm256_set1_ps(k.beta1),
               b2 = _mm256_set1_ps(k.beta2), omb1 = _mm256_set1_ps(k.one_minus_beta1),
               omb2 = _mm256_set1_ps(k.one_minus_beta2), bc1 = _mm256_set1_ps(k.bc1),
               bc2 = _mm256_set1_ps(k.bc2), eps = _mm256_set1_ps(k.eps),
               wd = _mm256_set1_ps(k.weight_decay), lr = _mm256_set1_ps(k.lr);
  for (; i + 8 <= end; i += 8) {
    const __m256 g = _mm256_mul_ps(load_grad8<kBf16Grad>(s.grad, i), gs);
    __m256 m = _mm256_loadu_ps(s.m + i);
    __m256 v = _mm256_loadu_ps(s.v + i);
    __m256 p = _mm256_loadu_ps(s.master + i);
    m = _mm256_add_ps(_mm256_mul_ps(b1, m), _mm256_mul_ps(omb1, g));
    v = _mm256_add_ps(_mm256_mul_ps(b2, v), _mm256_mul_ps(omb2, _mm256_mul_ps(g, g)));
    const __m256 mhat = _mm256_div_ps(m, bc1);
    const __m256 vhat = _mm256_div_ps(v, bc2);
    const __m256 den = _mm256_add_ps(_mm256_sqrt_ps(vhat), eps);
    const __m256 upd = _mm256_add_ps(_mm256_div_ps(mhat, den), _mm256_mul_ps(wd, p));
    p = _mm256_sub_ps(p, _mm256_mul_ps(lr, upd));
    _mm256_storeu_ps(s.m + i, m);
    _mm256_storeu_ps(s.v + i, v);
    _mm256_storeu_ps(s.master + i, p);
    if constexpr (kOut == kOutF32) {
      float* o = static_cast<float*>(s.out) + i;
      if constexpr (kStream)
        _mm256_stream_ps(o, p);
      else
        _mm256_storeu_ps(o, p);
    } else if constexpr (kOut == kOutBf16) {
      __m128i* o = reinterpret_cast<__m128i*>(static_cast<uint16_t*>(s.out) + i);
      if constexpr (kStream)
        _mm_stream_si128(o, to_bf16_8(p));
      else
        _mm_storeu_si128(o, to_bf16_8(p));
    }
  }
}

// ---- dispatch
// -------------------------------------------------------------------------------------
using MainFn = void (*)(const AdamWSpan&, size_t, size_t, const AdamWConsts&);

template <template <bool, int, bool> class Pick>
MainFn pick(bool bf16_grad, OutKind ok, bool stream) {
  // Instantiates the 10 meaningful (grad, out, stream) combinations of one ISA's main loop.
  auto with_grad = [&]<bool G>() -> MainFn {
    if (ok == kOutNone) return Pick<G, kOutNone, false>::fn;
    if (ok == kOutF32) return stream ? Pick<G, kOutF32, true>::fn : Pick<G, kOutF32, false>::fn;
    return stream ? Pick<G, kOutBf16, true>::fn : Pick<G, kOutBf16, false>::fn;
  };
  return bf16_grad ? with_grad.template operator()<true>() : with_grad.template operator()<false>();
}
template <bool G, int O, bool S>
struct Avx512Main {
  static constexpr MainFn fn = &avx512_main<G, O, S>;
};
template <bool G, int O, bool S>
struct Avx2Main {
  static constexpr MainFn fn = &avx2_main<G, O, S>;
};

}  // namespace

const char* adam_isa_name(AdamIsa isa) {
  switch (isa) {
    case AdamIsa::Scalar:
      return "scalar";
    case AdamIsa::Avx2:
      return "avx2";
    case AdamIsa::Avx512:
      return "avx512";
  }
  return "?";
}

AdamIsa adam_isa_from_name(const char* name) {
  const std::string s = name ? name : "";
  if (s == "scalar") return AdamIsa::Scalar;
  if (s == "avx2") return AdamIsa::Avx2;
  if (s == "avx512") return AdamIsa::Avx512;
  MART_FAIL("unknown CPU Adam ISA '", s, "': expected scalar, avx2 or avx512");
}

bool adam_isa_supported(AdamIsa isa) {
  __builtin_cpu_init();  // libgcc also checks that the OS saves the ymm/zmm state (XCR0)
  switch (isa) {
    case AdamIsa::Scalar:
      return true;
    case AdamIsa::Avx2:
      return __builtin_cpu_supports("avx2");
    case AdamIsa::Avx512:
      return __builtin_cpu_supports("avx512f");
  }
  return false;
}

AdamIsa adam_isa_default() {
  if (const char* env = std::getenv("MART_CPU_ADAM_ISA"); env && *env) {
    const AdamIsa isa = adam_isa_from_name(env);
    MART_CHECK(adam_isa_supported(isa), "MART_CPU_ADAM_ISA=", env,
               " but this CPU does not support it (unset the variable, or pick scalar/avx2)");
    return isa;
  }
  if (adam_isa_supported(AdamIsa::Avx512)) return AdamIsa::Avx512;
  if (adam_isa_supported(AdamIsa::Avx2)) return AdamIsa::Avx2;
  return AdamIsa::Scalar;
}

AdamWConsts adamw_consts(const AdamWHyper& h) {
  MART_CHECK(h.step >= 1, "AdamW step must be >= 1 (1-based for bias correction), got ", h.step);
  MART_CHECK(h.beta1 >= 0.0f && h.beta1 < 1.0f, "AdamW beta1 must be in [0, 1), got ", h.beta1);
  MART_CHECK(h.beta2 >= 0.0f && h.beta2 < 1.0f, "AdamW beta2 must be in [0, 1), got ", h.beta2);
  MART_CHECK(std::isfinite(h.eps) && h.eps >= 0.0f, "AdamW eps must be finite and >= 0, got ",
             h.eps);
  MART_CHECK(std::isfinite(h.lr), "AdamW lr must be finite, got ", h.lr);
  MART_CHECK(std::isfinite(h.weight_decay), "AdamW weight_decay must be finite, got ",
             h.weight_decay);
  MART_CHECK(std::isfinite(h.grad_scale), "AdamW grad_scale must be finite, got ", h.grad_scale);
  AdamWConsts k;
  k.lr = h.lr;
  k.beta1 = h.beta1;
  k.beta2 = h.beta2;
  k.one_minus_beta1 = 1.0f - h.beta1;
  k.one_minus_beta2 = 1.0f - h.beta2;
  k.bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(h.beta1), h.step));
  k.bc2 = static_cast<float>(1.0 - std::pow(static_cast<double>(h.beta2), h.step));
  k.eps = h.eps;
  k.weight_decay = h.weight_decay;
  k.grad_scale = h.grad_scale;
  return k;
}

void adamw_validate(const AdamWSpan& s) {
  MART_CHECK(s.grad_dtype == DType::F32 || s.grad_dtype == DType::BF16,
             "CPU AdamW grad dtype must be F32 or BF16, got ", dtype_name(s.grad_dtype));
  MART_CHECK(!s.out || s.out_dtype == DType::F32 || s.out_dtype == DType::BF16,
             "CPU AdamW output param dtype must be F32 or BF16, got ", dtype_name(s.out_dtype));
  if (s.n == 0) return;
  MART_CHECK(s.grad && s.master && s.m && s.v, "CPU AdamW needs grad, master, m and v buffers (",
             s.grad ? "" : "grad ", s.master ? "" : "master ", s.m ? "" : "m ", s.v ? "" : "v ",
             "null) for n = ", s.n);
}

size_t adamw_bytes_per_element(const AdamWSpan& s) {
  // Read g, p, m, v; write p, m, v; write out (streamed: no read-for-ownership).
  return dtype_size(s.grad_dtype) + 3 * 4 + 3 * 4 + (s.out ? dtype_size(s.out_dtype) : 0);
}

void adamw_simd(const AdamWSpan& s, size_t begin, size_t end, const AdamWConsts& k, AdamIsa isa,
                bool stream_out) {
  MART_CHECK(begin <= end && end <= s.n, "CPU AdamW range [", begin, ", ", end,
             ") is outside the span of n = ", s.n);
  if (begin == end) return;
  const OutKind ok = out_kind(s);
  if (isa == AdamIsa::Scalar) {
    scalar_range(s, begin, end, k);
    return;
  }
  MART_CHECK(adam_isa_supported(isa), "CPU AdamW path ", adam_isa_name(isa),
             " is not supported by this CPU");
  // Peel scalar elements until the output is aligned for the streaming store (64 B for a zmm of
  // fp32, 32 B for 16 bf16, ...). A misaligned element pointer cannot be fixed by peeling: then
  // use ordinary stores. The peel changes no result bits (same reference order per element).
  size_t peel = 0;
  bool stream = stream_out && ok != kOutNone;
  if (stream) {
    const size_t esz = ok == kOutF32 ? 4 : 2;
    const size_t vbytes = (isa == AdamIsa::Avx512 ? 16 : 8) * esz;
    const uintptr_t addr = reinterpret_cast<uintptr_t>(s.out) + begin * esz;
    if (addr % esz != 0) {
      stream = false;
    } else {
      peel = ((vbytes - addr % vbytes) % vbytes) / esz;
      if (peel > end - begin) peel = end - begin;
    }
  }
  scalar_range(s, begin, begin + peel, k);
  const bool bf16_grad = s.grad_dtype == DType::BF16;
  const MainFn main = isa == AdamIsa::Avx512 ? pick<Avx512Main>(bf16_grad, ok, stream)
                                             : pick<Avx2Main>(bf16_grad, ok, stream);
  const size_t width = isa == AdamIsa::Avx512 ? 16 : 8;
  const size_t vec_end = begin + peel + (end - begin - peel) / width * width;
  main(s, begin + peel, vec_end, k);
  scalar_range(s, vec_end, end, k);
  // Non-temporal stores are weakly ordered: fence so they are visible before we report done.
  if (stream) _mm_sfence();
}

}  // namespace mart::cpu
