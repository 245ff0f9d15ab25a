// Shared helpers of the CPU Adam tests: random optimizer state with the awkward values (zeros,
// denormals, huge magnitudes) mixed in, and bitwise comparison.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common/dtype.h"
#include "kernels/cpu/adamw_simd.h"

namespace mart::test {

// One chunk's state, owned. Vectors are padded by `pad` elements in front so tests can offset the
// pointers (to exercise the alignment peel of the streaming stores).
struct AdamState {
  std::vector<float> grad, master, m, v, out_f32;
  std::vector<uint16_t> grad_bf16, out_bf16;
  size_t n = 0;

  // kind: 0 = ordinary values, 1 = with special values mixed in.
  AdamState(size_t n_, uint32_t seed, int kind = 1) : n(n_) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::uniform_int_distribution<int> pick(0, 15);
    auto special = [&](float x, bool nonneg) {
      if (kind == 0) return x;
      switch (pick(rng)) {
        case 0:
          return 0.0f;
        case 1:
          return nonneg ? 0.0f : -0.0f;
        case 2:
          return std::numeric_limits<float>::denorm_min() * (1 + pick(rng));
        case 3:
          return 1e-39f * (nonneg ? 1.0f : -1.0f);  // denormal
        case 4:
          return nonneg ? 3e37f : -2e19f;  // huge (g*g overflows to inf)
        default:
          return x;
      }
    };
    grad.resize(n);
    master.resize(n);
    m.resize(n);
    v.resize(n);
    grad_bf16.resize(n);
    for (size_t i = 0; i < n; ++i) {
      grad[i] = special(nd(rng) * 1e-2f, false);
      master[i] = special(nd(rng) * 0.05f, false);
      m[i] = special(nd(rng) * 1e-3f, false);
      v[i] = special(std::fabs(nd(rng)) * 1e-5f, true);
      grad_bf16[i] = f32_to_bf16(grad[i]);
    }
    out_f32.assign(n, -1.0f);
    out_bf16.assign(n, 0xdead);
  }

  cpu::AdamWSpan span(bool bf16_grad, int out /*0 none, 1 f32, 2 bf16*/) {
    cpu::AdamWSpan s;
    s.grad = bf16_grad ? static_cast<const void*>(grad_bf16.data()) : grad.data();
    s.grad_dtype = bf16_grad ? DType::BF16 : DType::F32;
    s.master = master.data();
    s.m = m.data();
    s.v = v.data();
    s.out = out == 0 ? nullptr : out == 1 ? static_cast<void*>(out_f32.data()) : out_bf16.data();
    s.out_dtype = out == 1 ? DType::F32 : DType::BF16;
    s.n = n;
    return s;
  }
};

inline uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline std::string hex(uint32_t u) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", u);
  return buf;
}

// Equal bits, or both NaN (NaN payloads may differ with operand order; none arise without NaN
// inputs, which the generators do not produce).
inline ::testing::AssertionResult same_bits(const std::vector<float>& a,
                                            const std::vector<float>& b, const char* what) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << what << ": sizes differ";
  for (size_t i = 0; i < a.size(); ++i) {
    if (bits(a[i]) == bits(b[i]) || (std::isnan(a[i]) && std::isnan(b[i]))) continue;
    return ::testing::AssertionFailure()
           << what << "[" << i << "]: " << a[i] << " (" << hex(bits(a[i])) << ") vs " << b[i]
           << " (" << hex(bits(b[i])) << ")";
  }
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult same_bits(const std::vector<uint16_t>& a,
                                            const std::vector<uint16_t>& b, const char* what) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << what << ": sizes differ";
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i])
      return ::testing::AssertionFailure()
             << what << "[" << i << "]: " << hex(a[i]) << " vs " << hex(b[i]);
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult same_state(const AdamState& a, const AdamState& b) {
  if (auto r = same_bits(a.master, b.master, "master"); !r) return r;
  if (auto r = same_bits(a.m, b.m, "m"); !r) return r;
  if (auto r = same_bits(a.v, b.v, "v"); !r) return r;
  if (auto r = same_bits(a.out_f32, b.out_f32, "out_f32"); !r) return r;
  return same_bits(a.out_bf16, b.out_bf16, "out_bf16");
}

inline std::vector<cpu::AdamIsa> available_isas() {
  std::vector<cpu::AdamIsa> v;
  for (auto isa : {cpu::AdamIsa::Scalar, cpu::AdamIsa::Avx2, cpu::AdamIsa::Avx512})
    if (cpu::adam_isa_supported(isa)) v.push_back(isa);
  return v;
}

}  // namespace mart::test
