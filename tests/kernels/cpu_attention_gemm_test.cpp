// The tiled GEMM attention (kernels/cpu/attention.cpp) forward and backward against a naive
// textbook attention kept here as the reference, over many shapes (T = 1, T not a multiple of the
// 64-row query tile, many tiles, head sizes 8..128, GQA ratios 1, 2, 4, B > 1) in both scalar
// types; and bitwise determinism: run to run, and for 1, 2, 3 OpenMP threads and 1 or 2 OpenBLAS
// threads.
#include <cblas.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "tests/kernels/cpu_test_util.h"

namespace mart::cpu_test {
namespace {

struct Shape {
  int B, T, NH, NKV, HS;
  int W() const { return (NH + 2 * NKV) * HS; }  // qkv row width
  size_t n_qkv() const { return static_cast<size_t>(B) * T * W(); }
  size_t n_out() const { return static_cast<size_t>(B) * T * NH * HS; }
  size_t n_lse() const { return static_cast<size_t>(B) * NH * T; }
  std::string str() const {
    char buf[96];
    std::snprintf(buf, sizeof buf, "B=%d T=%d NH=%d NKV=%d HS=%d", B, T, NH, NKV, HS);
    return buf;
  }
};

// The reference, in double, straight from the definitions, one (b, h) at a time with the full
// T x T matrices: S = Q K^T / sqrt(HS) with -inf above the diagonal, P = softmax_rows(S),
// O = P V, lse = logsumexp_rows(S); backward dP = dO V^T, D = rowsum(dO * O),
// dS = P * (dP - D), dQ = dS K / sqrt(HS), dK = dS^T Q / sqrt(HS), dV = P^T dO, with dK and dV
// summed over the query heads sharing kv head g = h / (NH / NKV).
struct Naive {
  Vec out, lse, dqkv;  // out[B,T,NH*HS], lse[B,NH,T], dqkv[B,T,(NH+2NKV)*HS]
};

Naive naive_attention(const Vec& qkv, const Vec& dout, const Shape& s) {
  const int B = s.B, T = s.T, NH = s.NH, NKV = s.NKV, HS = s.HS, W = s.W(), OW = NH * HS;
  const double scale = 1.0 / std::sqrt(static_cast<double>(HS));
  Naive r{Vec(s.n_out(), 0.0), Vec(s.n_lse(), 0.0), Vec(s.n_qkv(), 0.0)};
  auto q = [&](int b, int t, int h, int i) { return qkv[(size_t(b) * T + t) * W + h * HS + i]; };
  auto k = [&](int b, int t, int g, int i) {
    return qkv[(size_t(b) * T + t) * W + (NH + g) * HS + i];
  };
  auto v = [&](int b, int t, int g, int i) {
    return qkv[(size_t(b) * T + t) * W + (NH + NKV + g) * HS + i];
  };
  auto oidx = [&](int b, int t, int h, int i) { return (size_t(b) * T + t) * OW + h * HS + i; };
  std::vector<double> P(size_t(T) * T), dS(size_t(T) * T);  // [T,T] for one (b, h)
  for (int b = 0; b < B; b++) {
    for (int h = 0; h < NH; h++) {
      const int g = h / (NH / NKV);
      for (int t = 0; t < T; t++) {
        double mx = -std::numeric_limits<double>::infinity();
        for (int t2 = 0; t2 < T; t2++) {
          double d = 0.0;
          for (int i = 0; i < HS; i++) d += q(b, t, h, i) * k(b, t2, g, i);
          P[size_t(t) * T + t2] = t2 > t ? -std::numeric_limits<double>::infinity() : d * scale;
          mx = std::max(mx, P[size_t(t) * T + t2]);
        }
        double sum = 0.0;
        for (int t2 = 0; t2 < T; t2++) sum += std::exp(P[size_t(t) * T + t2] - mx);
        for (int t2 = 0; t2 < T; t2++) {
          P[size_t(t) * T + t2] = std::exp(P[size_t(t) * T + t2] - mx) / sum;
        }
        r.lse[(size_t(b) * NH + h) * T + t] = mx + std::log(sum);
        for (int i = 0; i < HS; i++) {
          double o = 0.0;
          for (int t2 = 0; t2 < T; t2++) o += P[size_t(t) * T + t2] * v(b, t2, g, i);
          r.out[oidx(b, t, h, i)] = o;
        }
      }
      for (int t = 0; t < T; t++) {
        double D = 0.0;
        for (int i = 0; i < HS; i++) D += dout[oidx(b, t, h, i)] * r.out[oidx(b, t, h, i)];
        for (int t2 = 0; t2 < T; t2++) {
          double dp = 0.0;
          for (int i = 0; i < HS; i++) dp += dout[oidx(b, t, h, i)] * v(b, t2, g, i);
          dS[size_t(t) * T + t2] = P[size_t(t) * T + t2] * (dp - D);
        }
      }
      for (int t = 0; t < T; t++) {
        double* drow = &r.dqkv[(size_t(b) * T + t) * W];
        for (int i = 0; i < HS; i++) {
          double dq = 0.0, dk = 0.0, dv = 0.0;
          for (int t2 = 0; t2 < T; t2++) {
            dq += dS[size_t(t) * T + t2] * k(b, t2, g, i);
            dk += dS[size_t(t2) * T + t] * q(b, t2, h, i);
            dv += P[size_t(t2) * T + t] * dout[oidx(b, t2, h, i)];
          }
          drow[h * HS + i] = dq * scale;
          drow[(NH + g) * HS + i] += dk * scale;
          drow[(NH + NKV + g) * HS + i] += dv;
        }
      }
    }
  }
  return r;
}

template <class S>
struct Kernel {
  std::vector<S> out, lse, dqkv;
};

// The kernel under test; dqkv starts as NaN to check that every element is overwritten.
template <class S>
Kernel<S> run_kernel(const std::vector<S>& qkv, const std::vector<S>& dout, const Shape& s) {
  Kernel<S> k{std::vector<S>(s.n_out()), std::vector<S>(s.n_lse()),
              std::vector<S>(s.n_qkv(), std::numeric_limits<S>::quiet_NaN())};
  cpu::attention_forward(k.out.data(), k.lse.data(), qkv.data(), s.B, s.T, s.NH, s.NKV, s.HS);
  cpu::attention_backward(k.dqkv.data(), dout.data(), qkv.data(), k.out.data(), k.lse.data(), s.B,
                          s.T, s.NH, s.NKV, s.HS);
  return k;
}

// max over i of |got - want| / max(1, |want|); NaN counts as infinitely wrong.
template <class S>
double worst_error(const std::vector<S>& got, const Vec& want) {
  EXPECT_EQ(got.size(), want.size());
  double worst = 0.0;
  for (size_t i = 0; i < got.size() && i < want.size(); i++) {
    const double e =
        std::fabs(static_cast<double>(got[i]) - want[i]) / std::max(1.0, std::fabs(want[i]));
    if (!(e <= worst)) worst = std::isnan(e) ? std::numeric_limits<double>::infinity() : e;
  }
  return worst;
}

// Inputs in [-amp, amp], generated as float so that both scalar types see the same values; dout
// in [-1, 1]. The reference runs on the same (float-representable) values in double.
template <class S>
void check_against_naive(const Shape& s, double tol_fwd, double tol_bwd, double amp = 2.0) {
  SCOPED_TRACE(s.str() + (sizeof(S) == 4 ? " float" : " double"));
  const auto qkv_f = randv<float>(s.n_qkv(), 1000 + s.T * 7 + s.HS * 13 + s.NKV, -amp, amp);
  const auto dout_f = randv<float>(s.n_out(), 2000 + s.T + s.NH);
  const Vec qkv(qkv_f.begin(), qkv_f.end()), dout(dout_f.begin(), dout_f.end());
  const Naive ref = naive_attention(qkv, dout, s);
  const Kernel<S> got = run_kernel(cast<S>(qkv), cast<S>(dout), s);
  EXPECT_LE(worst_error(got.out, ref.out), tol_fwd) << "out";
  EXPECT_LE(worst_error(got.lse, ref.lse), tol_fwd) << "lse";
  EXPECT_LE(worst_error(got.dqkv, ref.dqkv), tol_bwd) << "dqkv";
}

// T: 1, below / at / just above one 64-row tile, several tiles with a ragged last one.
// HS: 8..128. NH/NKV: 1, 2, 4. B: 1..3.
const Shape kShapes[] = {
    {1, 1, 1, 1, 8},    {2, 1, 4, 2, 16},   {1, 7, 2, 2, 8},    {2, 63, 4, 1, 16},
    {1, 64, 2, 1, 32},  {3, 65, 4, 4, 8},   {2, 100, 8, 4, 32}, {1, 130, 4, 2, 64},
    {2, 71, 2, 1, 128}, {1, 129, 4, 1, 24}, {2, 200, 2, 2, 16},
};

// Tolerances, relative to max(1, |x|). double: dgemm and the naive loops differ only in summation
// order (~1e-15); 1e-12 is the existing CpuAttention bound. float: sgemm sums HS products per
// score and up to T products per output in fp32, and the backward chains two such GEMMs; the
// worst errors seen over these shapes were 1.2e-6 (out), 3.7e-7 (lse) and 1.1e-6 (dqkv), so
// 1e-5 / 2e-5 leave ~10x headroom without hiding a real bug (a wrong mask, tile bound or group
// term is an error of 1e-3..1).
TEST(CpuAttentionGemm, DoubleMatchesNaive) {
  for (const Shape& s : kShapes) check_against_naive<double>(s, 1e-12, 1e-11);
}
TEST(CpuAttentionGemm, FloatMatchesNaive) {
  for (const Shape& s : kShapes) check_against_naive<float>(s, 1e-5, 2e-5);
}

// 18 query tiles, the last of 12 rows: the tile loop, the causal key bound per tile and the dK/dV
// accumulation across many tiles.
TEST(CpuAttentionGemm, LongSequenceMatchesNaive) {
  const Shape s{1, 1100, 4, 1, 8};
  check_against_naive<double>(s, 1e-12, 1e-11);
  check_against_naive<float>(s, 1e-5, 2e-5);
}

// Large scores (inputs in [-6, 6], HS 32: |scores| up to ~100): near one-hot rows, and exp
// arguments far below -87, where the float exp clamps. A float score of ~100 carries an absolute
// rounding error of ~1e-5, which P = exp(S - lse) turns into a relative one: the worst errors seen
// were 1.5e-5 (out) and 2.2e-5 (dqkv), so float gets 1e-4 here.
TEST(CpuAttentionGemm, PeakedSoftmaxMatchesNaive) {
  const Shape s{2, 90, 4, 2, 32};
  check_against_naive<double>(s, 1e-12, 1e-10, 6.0);
  check_against_naive<float>(s, 1e-4, 1e-4, 6.0);
}

// The reference backward itself, by finite differences of sum(out * dout) (so that the tests
// above compare against a trustworthy gradient, not just the same formulas twice).
TEST(CpuAttentionGemm, NaiveBackwardMatchesFiniteDifferences) {
  const Shape s{2, 5, 4, 2, 3};
  Vec qkv = randv(s.n_qkv(), 3000, -1.5, 1.5);
  const Vec dout = randv(s.n_out(), 3001);
  const Vec dqkv = naive_attention(qkv, dout, s).dqkv;
  expect_grad("qkv", qkv, dqkv, [&] { return dot(naive_attention(qkv, dout, s).out, dout); });
}

// A NaN input must come out as NaN (the float exp clamps very negative arguments, but lets NaN
// through), so a diverged model still shows.
TEST(CpuAttentionGemm, NaNPropagates) {
  const Shape s{1, 5, 2, 1, 8};
  auto qkv = randv<float>(s.n_qkv(), 3100);
  qkv[2 * s.W() + s.NH * s.HS] = std::numeric_limits<float>::quiet_NaN();  // k of token 2
  std::vector<float> out(s.n_out()), lse(s.n_lse());
  cpu::attention_forward(out.data(), lse.data(), qkv.data(), s.B, s.T, s.NH, s.NKV, s.HS);
  for (int t = 0; t < s.T; t++) {
    // Tokens before 2 do not see it; token 2 and later do.
    EXPECT_EQ(std::isnan(out[size_t(t) * s.NH * s.HS]), t >= 2) << "t=" << t;
  }
}

TEST(CpuAttentionGemm, EmptyBatchOrSequenceIsANoOp) {
  std::vector<float> qkv(1), out(1, 7.0f), lse(1, 7.0f), dout(1), dqkv(1, 7.0f);
  cpu::attention_forward(out.data(), lse.data(), qkv.data(), 0, 5, 2, 1, 8);
  cpu::attention_forward(out.data(), lse.data(), qkv.data(), 3, 0, 2, 1, 8);
  cpu::attention_backward(dqkv.data(), dout.data(), qkv.data(), out.data(), lse.data(), 0, 5, 2, 1,
                          8);
  EXPECT_EQ(out[0], 7.0f);
  EXPECT_EQ(lse[0], 7.0f);
  EXPECT_EQ(dqkv[0], 7.0f);
}

// Sets OpenBLAS's thread count for a scope and restores it after.
class BlasThreads {
 public:
  explicit BlasThreads(int n) : saved_(openblas_get_num_threads()) { openblas_set_num_threads(n); }
  ~BlasThreads() { openblas_set_num_threads(saved_); }

 private:
  int saved_;
};

// Several tiles per (b, h), tasks of very different cost (the causal triangle), a GQA group of 2:
// the outputs must be bitwise identical run to run and for any OpenMP / OpenBLAS thread count.
template <class S>
void check_deterministic() {
  const Shape s{3, 200, 4, 2, 32};
  const auto qkv = cast<S>(randv(s.n_qkv(), 4000, -2, 2));
  const auto dout = cast<S>(randv(s.n_out(), 4001));
  Kernel<S> ref;
  {
    OmpThreads one(1);
    BlasThreads blas_one(1);
    ref = run_kernel(qkv, dout, s);
  }
  for (int omp : {1, 2, 3}) {
    for (int blas : {1, 2}) {
      OmpThreads scoped(omp);
      BlasThreads blas_scoped(blas);
      const Kernel<S> got = run_kernel(qkv, dout, s);
      EXPECT_TRUE(bitwise_equal(got.out, ref.out)) << omp << " omp / " << blas << " blas: out";
      EXPECT_TRUE(bitwise_equal(got.lse, ref.lse)) << omp << " omp / " << blas << " blas: lse";
      EXPECT_TRUE(bitwise_equal(got.dqkv, ref.dqkv)) << omp << " omp / " << blas << " blas: dqkv";
      // The kernels make OpenBLAS serial while they run and must give the setting back.
      EXPECT_EQ(openblas_get_num_threads(), blas);
    }
  }
}
TEST(CpuAttentionGemm, FloatBitwiseIndependentOfThreadCount) {
  check_deterministic<float>();
}
TEST(CpuAttentionGemm, DoubleBitwiseIndependentOfThreadCount) {
  check_deterministic<double>();
}

}  // namespace
}  // namespace mart::cpu_test
