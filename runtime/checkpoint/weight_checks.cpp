#include "runtime/checkpoint/weight_checks.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/error.h"

namespace mart {
namespace {

float f16_to_f32(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
  if (exp == 0) {
    if (man == 0) {
      u = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while (!(man & 0x400)) man <<= 1, --exp;
      u = sign | (exp << 23) | ((man & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | (man << 13);
  } else {
    u = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

struct ValueCounts {
  uint64_t nan = 0, inf = 0, huge = 0, negative = 0;
  double largest = 0;  // largest finite |x|
};

ValueCounts count_values(const TensorView& t, double limit) {
  ValueCounts c;
  const size_t n = static_cast<size_t>(t.numel());
  for (size_t i = 0; i < n; ++i) {
    const float x = element_as_f32(t, i);
    if (std::isnan(x)) {
      ++c.nan;
    } else if (std::isinf(x)) {
      ++c.inf;
    } else {
      const double a = std::fabs(static_cast<double>(x));
      c.largest = std::max(c.largest, a);
      c.huge += a > limit;
      c.negative += x < 0;
    }
  }
  return c;
}

void check_finite(const ValueCounts& c, const TensorView& t, const std::string& path) {
  MART_CHECK(c.nan == 0, path, ": tensor ", t.name, " has ", c.nan,
             " NaN values; the file is corrupt or was saved from a diverged run");
  MART_CHECK(c.inf == 0, path, ": tensor ", t.name, " has ", c.inf,
             " infinite values; the file is corrupt or was saved from a diverged run");
}

}  // namespace

float element_as_f32(const TensorView& t, size_t i) {
  switch (t.dtype) {
    case DType::F32: {
      float f;
      std::memcpy(&f, t.data + 4 * i, 4);
      return f;
    }
    case DType::BF16: {
      uint16_t h;
      std::memcpy(&h, t.data + 2 * i, 2);
      return bf16_to_f32(h);
    }
    case DType::F16: {
      uint16_t h;
      std::memcpy(&h, t.data + 2 * i, 2);
      return f16_to_f32(h);
    }
    default:
      MART_FAIL("tensor '", t.name, "' has dtype ", dtype_name(t.dtype),
                "; model weights must be F32, BF16 or F16");
  }
}

void check_weight_values(const TensorView& t, const std::string& path) {
  const ValueCounts c = count_values(t, kMaxAbsWeight);
  check_finite(c, t, path);
  MART_CHECK(c.huge == 0, path, ": tensor ", t.name, " has ", c.huge, " values with |w| > ",
             kMaxAbsWeight, " (largest ", c.largest,
             "); trained weights are O(1), so the file is corrupt or not in the expected scale");
}

void check_adam_values(const TensorView& t, const std::string& path, bool second_moment) {
  const ValueCounts c = count_values(t, HUGE_VAL);
  check_finite(c, t, path);
  MART_CHECK(!second_moment || c.negative == 0, path, ": tensor ", t.name, " has ", c.negative,
             " negative values; AdamW's second moment (a mean of squared gradients) is never "
             "negative, so the file is corrupt");
}

}  // namespace mart
