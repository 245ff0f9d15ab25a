// Shared helpers for the RLHF math tests: seeded random [B, T] inputs, response masks, and a
// central finite-difference gradient check.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

namespace mart::rlhf::testing {

inline std::vector<double> uniform(size_t n, double lo, double hi, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

// Row b is 1 for its first lens[b] positions, then 0.
inline std::vector<uint8_t> prefix_mask(const std::vector<int>& lens, int64_t T) {
  std::vector<uint8_t> m(lens.size() * T, 0);
  for (size_t b = 0; b < lens.size(); ++b)
    for (int t = 0; t < lens[b]; ++t) m[b * T + t] = 1;
  return m;
}

// max_i |grad[i] - fd_i| / max(max_i |fd_i|, 1e-12), fd by central differences of f with step h.
inline double fd_error(const std::function<double(const std::vector<double>&)>& f,
                       std::vector<double> x, const std::vector<double>& grad, double h = 1e-6) {
  double worst = 0, scale = 1e-12;
  std::vector<double> fd(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    x[i] = x0 + h;
    const double fp = f(x);
    x[i] = x0 - h;
    const double fm = f(x);
    x[i] = x0;
    fd[i] = (fp - fm) / (2 * h);
    scale = std::max(scale, std::abs(fd[i]));
  }
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(grad[i] - fd[i]));
  return worst / scale;
}

}  // namespace mart::rlhf::testing
