// Helpers shared by the CPU kernel tests: seeded random buffers, a finite-difference gradient
// checker, thread-count control and bitwise comparison.
#pragma once
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace mart::cpu_test {

using Vec = std::vector<double>;

// n values uniform in [lo, hi), reproducible from seed.
template <class T = double>
std::vector<T> randv(size_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(d(g));
  return v;
}

inline std::vector<int32_t> randi(size_t n, uint64_t seed, int lo, int hi) {
  std::mt19937_64 g(seed);
  std::uniform_int_distribution<int> d(lo, hi - 1);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

template <class T>
std::vector<T> cast(const Vec& v) {
  return std::vector<T>(v.begin(), v.end());
}

inline Vec nans(size_t n) {
  return Vec(n, std::numeric_limits<double>::quiet_NaN());
}

inline double dot(const Vec& a, const Vec& b) {
  double s = 0.0;
  for (size_t i = 0; i < a.size(); i++) s += a[i] * b[i];
  return s;
}

// after - before: the part a "+=" kernel added onto a pre-filled buffer.
inline Vec added(const Vec& after, const Vec& before) {
  Vec d(after.size());
  for (size_t i = 0; i < d.size(); i++) d[i] = after[i] - before[i];
  return d;
}

// Compares analytic[i] with the central difference (L(x + h e_i) - L(x - h e_i)) / 2h for every
// element of x. loss() must read x. The error is |a - n| / max(1, |a|, |n|): relative for large
// gradients, absolute for small ones (whose central difference is dominated by rounding in L).
inline void expect_grad(const char* name, Vec& x, const Vec& analytic,
                        const std::function<double()>& loss, double h = 1e-6, double tol = 1e-6) {
  ASSERT_EQ(x.size(), analytic.size()) << name;
  double worst = 0.0;
  int reported = 0;
  for (size_t i = 0; i < x.size(); i++) {
    const double x0 = x[i];
    x[i] = x0 + h;
    const double lp = loss();
    x[i] = x0 - h;
    const double lm = loss();
    x[i] = x0;
    const double num = (lp - lm) / (2.0 * h);
    const double a = analytic[i];
    const double err = std::fabs(a - num) / std::max({1.0, std::fabs(a), std::fabs(num)});
    if (!(err <= tol)) {  // also catches NaN
      if (reported++ < 5) {
        ADD_FAILURE() << name << "[" << i << "]: analytic " << a << " vs numeric " << num
                      << " (error " << err << ")";
      }
    }
    if (err > worst || std::isnan(err)) worst = err;
  }
  EXPECT_LE(worst, tol) << name << ": worst error over " << x.size() << " elements";
  loss();  // leave the forward outputs at the unperturbed point
}

inline void expect_near_all(const Vec& got, const Vec& want, double tol, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); i++) {
    ASSERT_NEAR(got[i], want[i], tol * std::max(1.0, std::fabs(want[i])))
        << what << "[" << i << "]";
  }
}

template <class T>
bool bitwise_equal(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// Sets the OpenMP thread count for a scope and restores it after.
class OmpThreads {
 public:
  explicit OmpThreads(int n) : saved_(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~OmpThreads() { omp_set_num_threads(saved_); }

 private:
  int saved_;
};

}  // namespace mart::cpu_test
