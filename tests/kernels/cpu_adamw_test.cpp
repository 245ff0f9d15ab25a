// AdamW against hand-computed steps, and the float path's exact operation order (the SIMD Adam
// must match it bitwise, so the order is part of the contract).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "kernels/cpu/cpu_kernels.h"
#include "tests/kernels/cpu_test_util.h"

namespace mart::cpu_test {
namespace {

// lr 0.1, betas (0.9, 0.95), eps 1e-8, weight decay 0.1, p = 1, grad 0.5 then -0.2 at scale 0.5.
// Step 1: m = 0.05, v = 0.0125, mhat = 0.5, vhat = 0.25,
//         p = 1 - 0.1 * (0.5 / (0.5 + 1e-8) + 0.1 * 1) = 0.890000002.
// Step 2: g = -0.1, m = 0.045 - 0.01 = 0.035, v = 0.011875 + 0.0005 = 0.012375,
//         mhat = 0.035 / 0.19, vhat = 0.012375 / 0.0975,
//         p = 0.890000002 - 0.1 * (mhat / (sqrt(vhat) + 1e-8) + 0.1 * 0.890000002) =
//         0.82939362178...
template <class S>
void hand_computed(double tol) {
  S p = 1, g = S(0.5), m = 0, v = 0;
  cpu::adamw_update(&p, &g, &m, &v, 1, 0.1f, 0.9f, 0.95f, 1e-8f, 0.1f, 1, 1.0f);
  EXPECT_NEAR(m, 0.05, tol);
  EXPECT_NEAR(v, 0.0125, tol);
  EXPECT_NEAR(p, 0.890000002, tol);
  g = S(-0.2);
  cpu::adamw_update(&p, &g, &m, &v, 1, 0.1f, 0.9f, 0.95f, 1e-8f, 0.1f, 2, 0.5f);
  EXPECT_NEAR(m, 0.035, tol);
  EXPECT_NEAR(v, 0.012375, tol);
  EXPECT_NEAR(p, 0.8293936217800855, tol);
}
// The double run takes float hyper-parameters (1 - 0.9f = 0.100000024), hence 1e-7, not 1e-15.
TEST(CpuAdamW, HandComputedDouble) {
  hand_computed<double>(1e-7);
}
TEST(CpuAdamW, HandComputedFloat) {
  hand_computed<float>(1e-6);
}

TEST(CpuAdamW, ZeroGradientOnlyDecays) {
  double p = 2.0, g = 0.0, m = 0.0, v = 0.0;
  cpu::adamw_update(&p, &g, &m, &v, 1, 0.5f, 0.9f, 0.95f, 1e-8f, 0.25f, 3, 1.0f);
  EXPECT_DOUBLE_EQ(p, 2.0 - 0.5 * 0.25 * 2.0);
  EXPECT_EQ(m, 0.0);
  EXPECT_EQ(v, 0.0);
}

// The float path in exactly the documented order; volatile stops any reassociation or fusion.
float reference_step(float& p, float grad, float& m, float& v, float lr, float b1, float b2,
                     float eps, float wd, int step, float gs) {
  const float bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(b1), step));
  const float bc2 = static_cast<float>(1.0 - std::pow(static_cast<double>(b2), step));
  volatile float g = grad * gs;
  volatile float t1 = b1 * m;
  volatile float t2 = (1.0f - b1) * g;
  m = t1 + t2;
  volatile float gg = g * g;
  volatile float t3 = b2 * v;
  volatile float t4 = (1.0f - b2) * gg;
  v = t3 + t4;
  volatile float mhat = m / bc1;
  volatile float vhat = v / bc2;
  volatile float den = std::sqrt(static_cast<float>(vhat)) + eps;
  volatile float q = mhat / den;
  volatile float dec = wd * p;
  volatile float sum = q + dec;
  volatile float upd = lr * sum;
  p = p - upd;
  return p;
}

TEST(CpuAdamW, FloatFollowsDocumentedOrderBitwise) {
  const size_t n = 20000;
  auto p = randv<float>(n, 1, -2, 2), g = randv<float>(n, 2, -3, 3);
  auto m = randv<float>(n, 3, -0.5, 0.5), v = randv<float>(n, 4, 0.0, 0.3);
  for (size_t i = 0; i < n; i += 7) g[i] *= 1e-4f;  // tiny gradients: eps matters
  auto rp = p, rm = m, rv = v;
  const float lr = 3e-4f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, wd = 0.1f, gs = 0.37f;
  const int step = 5;
  cpu::adamw_update(p.data(), g.data(), m.data(), v.data(), n, lr, b1, b2, eps, wd, step, gs);
  for (size_t i = 0; i < n; i++)
    reference_step(rp[i], g[i], rm[i], rv[i], lr, b1, b2, eps, wd, step, gs);
  EXPECT_TRUE(bitwise_equal(m, rm));
  EXPECT_TRUE(bitwise_equal(v, rv));
  size_t mismatches = 0;
  for (size_t i = 0; i < n; i++) mismatches += std::memcmp(&p[i], &rp[i], sizeof(float)) != 0;
  EXPECT_EQ(mismatches, 0u);
}

TEST(CpuAdamW, RejectsStepZero) {
  float p = 0, g = 0, m = 0, v = 0;
  EXPECT_THROW(cpu::adamw_update(&p, &g, &m, &v, 1, 0.1f, 0.9f, 0.95f, 1e-8f, 0.0f, 0, 1.0f),
               mart::Error);
}

}  // namespace
}  // namespace mart::cpu_test
