// The vectorised fp32 activations (kernels/cpu/vec_math.h, activation_simd.cpp) against the
// scalar std::tanh / std::exp formulas they replaced: accuracy over a wide range including large
// |x|, the same NaN/inf results, and the same bits on every instruction-set path.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/cpu/activation_simd.h"
#include "kernels/cpu/cpu_kernels.h"
#include "tests/kernels/cpu_test_util.h"

namespace mart::cpu_test {
namespace {

constexpr double kS = 0.7978845608028654, kA = 0.044715;
const float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

// The formulas as they were before vectorisation, in the precision T.
template <class T>
T gelu_ref(T x) {
  const T u = T(kS) * (x + T(kA) * x * x * x);
  return T(0.5) * x * (T(1) + std::tanh(u));
}
template <class T>
T gelu_grad_ref(T x) {
  const T u = T(kS) * (x + T(kA) * x * x * x);
  const T th = std::tanh(u);
  return T(0.5) * (T(1) + th) + T(0.5) * x * (T(1) - th * th) * T(kS) * (T(1) + T(3 * kA) * x * x);
}

// The same functions in double through exp, with no cancellation anywhere:
// 0.5 (1 + tanh u) = 1 / (1 + exp(-2u)) and sech^2 u = 4 s (1 - s), 1 - s = e s for e = exp(-2u).
double gelu_exact(double x) {
  const double u = kS * (x + kA * x * x * x);
  return x / (1.0 + std::exp(-2.0 * u));
}
double gelu_grad_exact(double x) {
  const double u = kS * (x + kA * x * x * x), e = std::exp(-2.0 * u), s = 1.0 / (1.0 + e);
  const double oms = std::isinf(e) ? 1.0 : e * s;
  return s + 2.0 * x * s * oms * kS * (1.0 + 3.0 * kA * x * x);
}

// Inputs: a dense grid on [-12, 12], +-10^k for k in [-30, 30], subnormals, the extremes.
std::vector<float> wide_inputs() {
  std::vector<float> x;
  for (int i = -24000; i <= 24000; ++i) x.push_back(static_cast<float>(i) * 5e-4f);
  for (int k = -300; k <= 300; ++k) {
    const float p = std::pow(10.0f, static_cast<float>(k) / 10.0f);
    x.push_back(p);
    x.push_back(-p);
  }
  for (float v : {1e-40f, -1e-40f, std::numeric_limits<float>::max(),
                  -std::numeric_limits<float>::max(), 0.0f, -0.0f})
    x.push_back(v);
  return x;
}

// |got - want| / max(|want|, floor): the error measure every tolerance below uses. The floor keeps
// results that underflow fp32 (|want| < 1e-30) from counting as 100% errors.
double rel_err(double got, double want, double floor) {
  return std::fabs(got - want) / std::max(std::fabs(want), floor);
}

// Largest error of got against want over finite want; non-finite want must be matched exactly.
double max_err(const std::vector<float>& got, const std::vector<double>& want, double floor) {
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(want[i])) {
      const bool same = std::isnan(want[i]) ? std::isnan(got[i]) : got[i] == want[i];
      if (!same) {
        ADD_FAILURE() << "element " << i << ": got " << got[i] << ", want " << want[i];
        return std::numeric_limits<double>::infinity();
      }
      continue;
    }
    worst = std::max(worst, rel_err(got[i], want[i], floor));
  }
  return worst;
}

TEST(CpuActivation, TanhWithinTwoUlpOfDoubleOverWideRange) {
  const std::vector<float> x = wide_inputs();
  std::vector<double> want(x.size());
  for (size_t i = 0; i < x.size(); ++i) want[i] = std::tanh(static_cast<double>(x[i]));
  std::vector<float> got(x.size());
  cpu::tanh_forward_f32(got.data(), x.data(), x.size(), cpu::act_isa_default());
  const double tol = std::ldexp(1.0, -22);  // 2 ulp of a float in [0.5, 1)
  EXPECT_LE(max_err(got, want, 1e-38), tol);
  // Negative control: the measure sees a 4-ulp error.
  std::vector<float> bad = got;
  bad[30000] = std::nextafter(std::nextafter(bad[30000], 2.0f), 2.0f);
  bad[30000] = std::nextafter(std::nextafter(bad[30000], 2.0f), 2.0f);
  EXPECT_GT(max_err(bad, want, 1e-38), tol);
}

TEST(CpuActivation, TanhSpecialValues) {
  const std::vector<float> x = {kNaN, kInf, -kInf, 0.0f, -0.0f, 20.0f, -20.0f};
  std::vector<float> y(x.size());
  cpu::tanh_forward_f32(y.data(), x.data(), x.size(), cpu::act_isa_default());
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], 1.0f);
  EXPECT_EQ(y[2], -1.0f);
  EXPECT_EQ(y[3], 0.0f);
  EXPECT_TRUE(std::signbit(y[4]));
  EXPECT_EQ(y[5], 1.0f);
  EXPECT_EQ(y[6], -1.0f);
}

// Forward: within 4e-7 * max(1, |2u|) relative of the exact double value. The |2u| factor is the
// conditioning of exp(-2u) for x < 0: u itself is computed in fp32 (as the old formula did), so
// an ulp of u moves the result by |2u| ulps. The old float std::tanh formula loses all relative
// accuracy where 1 + tanh(u) cancels (x < -4), so against it the bound is absolute, scaled by
// max(1, |x|).
double gelu_fwd_err(const std::vector<float>& x, const std::vector<float>& got) {
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double want = gelu_exact(x[i]);
    if (!std::isfinite(want) || !std::isfinite(got[i])) {
      const float ref = gelu_ref<float>(x[i]);  // non-finite results: exactly as before
      const bool same = std::isnan(ref) ? std::isnan(got[i]) : got[i] == ref;
      if (!same) ADD_FAILURE() << "x=" << x[i] << ": got " << got[i] << ", before " << ref;
      continue;
    }
    const double u = kS * (double(x[i]) + kA * double(x[i]) * x[i] * x[i]);
    worst = std::max(worst, rel_err(got[i], want, 1e-30) / std::max(1.0, std::fabs(2 * u)));
  }
  return worst;
}

TEST(CpuActivation, GeluForwardMatchesReference) {
  const std::vector<float> x = wide_inputs();
  std::vector<float> got(x.size());
  cpu::gelu_forward(got.data(), x.data(), x.size());
  const double tol = 4e-7;
  EXPECT_LE(gelu_fwd_err(x, got), tol);
  double worst_vs_float = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const float ref = gelu_ref<float>(x[i]);
    if (std::isfinite(ref))
      worst_vs_float = std::max(worst_vs_float,
                                std::fabs(got[i] - ref) / std::max(1.0, std::fabs(double(x[i]))));
  }
  EXPECT_LE(worst_vs_float, 2e-7);
  std::vector<float> bad = got;
  bad[24400] *= 1.0f + 2e-6f;  // x = 0.2
  EXPECT_GT(gelu_fwd_err(x, bad), tol);
}

TEST(CpuActivation, GeluBackwardMatchesReference) {
  const std::vector<float> x = wide_inputs();
  const std::vector<float> dout(x.size(), 1.0f);
  std::vector<double> want(x.size());
  for (size_t i = 0; i < x.size(); ++i) want[i] = gelu_grad_exact(x[i]);
  std::vector<float> got(x.size());
  cpu::gelu_backward(got.data(), x.data(), dout.data(), x.size());
  // The derivative is a difference of two terms of size ~0.25 that cancel near x = -0.75, so the
  // error is relative for |grad| >= 1 and absolute below (floor 1): 2.5 ulp of 1.
  // Where x^2 overflows fp32 the kernel gives NaN (0 * inf) exactly where the old formula did.
  for (size_t i = 0; i < x.size(); ++i)
    if (std::isnan(gelu_grad_ref<float>(x[i]))) want[i] = std::numeric_limits<double>::quiet_NaN();
  const double tol = 3e-7;
  EXPECT_LE(max_err(got, want, 1.0), tol);
  std::vector<float> bad = got;
  bad[24000] += 1e-6f;
  EXPECT_GT(max_err(bad, want, 1.0), tol);
}

TEST(CpuActivation, GeluSpecialValuesAsBefore) {
  const std::vector<float> x = {kNaN, kInf, -kInf, 1e30f, -1e30f, -0.0f, 0.0f};
  std::vector<float> got(x.size()), grad(x.size());
  const std::vector<float> ones(x.size(), 1.0f);
  cpu::gelu_forward(got.data(), x.data(), x.size());
  cpu::gelu_backward(grad.data(), x.data(), ones.data(), x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const float f = gelu_ref<float>(x[i]), g = gelu_grad_ref<float>(x[i]);
    EXPECT_EQ(std::isnan(f), std::isnan(got[i])) << "x=" << x[i];
    if (!std::isnan(f)) {
      EXPECT_EQ(std::memcmp(&f, &got[i], 4), 0) << "x=" << x[i] << " " << got[i];
    }
    EXPECT_EQ(std::isnan(g), std::isnan(grad[i])) << "x=" << x[i];
    if (!std::isnan(g)) {
      EXPECT_EQ(g, grad[i]) << "x=" << x[i];
    }
  }
}

TEST(CpuActivation, SwigluMatchesDoubleReference) {
  const int N = 7, F = 1003;  // F not a multiple of any vector width
  std::vector<float> inp = randv<float>(static_cast<size_t>(N) * 2 * F, 91, -30, 30);
  inp[5] = kNaN;
  inp[6] = kInf;
  inp[7] = -kInf;
  const std::vector<float> dout = randv<float>(static_cast<size_t>(N) * F, 92, -1, 1);
  std::vector<float> out(static_cast<size_t>(N) * F), dinp(inp.size());
  cpu::swiglu_forward(out.data(), inp.data(), N, F);
  cpu::swiglu_backward(dinp.data(), dout.data(), inp.data(), N, F);
  std::vector<double> w_out(out.size()), w_din(dinp.size()), sc_out(out.size()),
      sc_din(dinp.size());
  for (int n = 0; n < N; ++n)
    for (int f = 0; f < F; ++f) {
      const double g = inp[n * 2 * F + f], u = inp[n * 2 * F + F + f], d = dout[n * F + f];
      const double sig = 1.0 / (1.0 + std::exp(-g));
      w_out[n * F + f] = g * sig * u;
      w_din[n * 2 * F + f] = d * u * sig * (1.0 + g * (1.0 - sig));
      w_din[n * 2 * F + F + f] = d * g * sig;
      // Error scales: the size of the terms before 1 + g (1 - sig) cancels (g near -1.28).
      sc_out[n * F + f] = std::fabs(w_out[n * F + f]);
      // (1 - sig carries an absolute error of an ulp of 1, hence |g| rather than |g| (1 - sig).)
      sc_din[n * 2 * F + f] = std::fabs(d * u * sig) * (1.0 + std::fabs(g));
      sc_din[n * 2 * F + F + f] = std::fabs(d * g * sig);
    }
  // Products of a few rounded factors: a few ulp of the terms' size.
  auto worst = [](const std::vector<float>& got, const std::vector<double>& want,
                  const std::vector<double>& scale) {
    double w = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      if (std::isnan(want[i]) || std::isinf(want[i])) {
        EXPECT_EQ(std::isnan(want[i]), std::isnan(got[i])) << i;
        continue;
      }
      w = std::max(w, std::fabs(got[i] - want[i]) / std::max(scale[i], 1e-30));
    }
    return w;
  };
  EXPECT_LE(worst(out, w_out, sc_out), 6e-7);
  EXPECT_LE(worst(dinp, w_din, sc_din), 6e-7);
  std::vector<float> bad = out;
  bad[100] *= 1.0f + 2e-6f;
  EXPECT_GT(worst(bad, w_out, sc_out), 6e-7);
}

// Every supported path gives the same bits as the baseline one, tails included.
TEST(CpuActivation, EveryIsaPathBitwiseEqual) {
  std::vector<float> x = wide_inputs();
  x.resize(x.size() - 3);  // an odd length
  x[11] = kNaN;
  const std::vector<float> d = randv<float>(x.size(), 93, -2, 2);
  auto run = [&](cpu::ActIsa isa) {
    std::vector<float> a(x.size()), b(x.size()), c(x.size()), s(x.size() / 2), dg(x.size() / 2),
        du(x.size() / 2);
    cpu::gelu_forward_f32(a.data(), x.data(), x.size(), isa);
    cpu::gelu_backward_f32(b.data(), x.data(), d.data(), x.size(), isa);
    cpu::tanh_forward_f32(c.data(), x.data(), x.size(), isa);
    const int F = static_cast<int>(x.size() / 2);
    cpu::swiglu_forward_row_f32(s.data(), x.data(), x.data() + F, F, isa);
    cpu::swiglu_backward_row_f32(dg.data(), du.data(), d.data(), x.data(), x.data() + F, F, isa);
    std::vector<float> all;
    for (auto* v : {&a, &b, &c, &s, &dg, &du}) all.insert(all.end(), v->begin(), v->end());
    return all;
  };
  const std::vector<float> base = run(cpu::ActIsa::Base);
  int tested = 0;
  for (cpu::ActIsa isa : {cpu::ActIsa::Avx2, cpu::ActIsa::Avx512}) {
    if (!cpu::act_isa_supported(isa)) continue;
    ++tested;
    const std::vector<float> got = run(isa);
    size_t differ = 0;  // NaN sign bits may differ between paths (x86 keeps the first operand's)
    for (size_t i = 0; i < got.size(); ++i)
      differ +=
          !(std::isnan(got[i]) && std::isnan(base[i])) && std::memcmp(&got[i], &base[i], 4) != 0;
    EXPECT_EQ(differ, 0u) << cpu::act_isa_name(isa);
  }
  if (tested == 0) GTEST_SKIP() << "this CPU has neither AVX2 nor AVX-512F";
}

TEST(CpuActivation, UnsupportedIsaIsRefusedByName) {
  for (cpu::ActIsa isa : {cpu::ActIsa::Avx2, cpu::ActIsa::Avx512}) {
    if (cpu::act_isa_supported(isa)) continue;
    float x = 1, y;
    EXPECT_THROW(cpu::tanh_forward_f32(&y, &x, 1, isa), std::exception);
  }
  EXPECT_STREQ(cpu::act_isa_name(cpu::ActIsa::Avx512), "avx512");
}

}  // namespace
}  // namespace mart::cpu_test
