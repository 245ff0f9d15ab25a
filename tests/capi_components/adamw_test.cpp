// mart_adamw_*: the SIMD CPU AdamW through the C API against a double-precision scalar reference
// of torch.optim.AdamW, async queueing, thread-count independence, state round trips and misuse.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "mart/mart.h"

namespace {

// torch.optim.AdamW._single_tensor_adamw in double, in torch's order (amsgrad/maximize off):
// p *= 1 - lr*wd; m.lerp_(g, 1-b1); v = v*b2 + (1-b2) g g; p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) +
// eps) `coupled` is the negative control: classic Adam with L2 decay folded into the gradient.
struct RefAdamW {
  std::vector<double> p, m, v;
  void step(const std::vector<float>& g, const mart_adamw_step_params& h, bool coupled = false) {
    const double lr = h.lr, b1 = h.beta1, b2 = h.beta2, eps = h.eps, wd = h.weight_decay;
    const double bc1 = 1.0 - std::pow(b1, static_cast<double>(h.step));
    const double bc2 = 1.0 - std::pow(b2, static_cast<double>(h.step));
    for (size_t i = 0; i < p.size(); ++i) {
      double gi = g[i];
      if (coupled)
        gi += wd * p[i];
      else
        p[i] *= 1.0 - lr * wd;
      m[i] += (1.0 - b1) * (gi - m[i]);
      v[i] = v[i] * b2 + (1.0 - b2) * gi * gi;
      p[i] -= lr / bc1 * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + eps);
    }
  }
};

std::vector<float> randn(size_t n, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> x(n);
  for (float& e : x) e = d(rng);
  return x;
}

// Largest |a - b| / (atol + rtol |b|): <= 1 means within tolerance.
double worst(const std::vector<float>& a, const std::vector<double>& b, double atol, double rtol) {
  double w = 0;
  for (size_t i = 0; i < a.size(); ++i)
    w = std::max(w, std::abs(a[i] - b[i]) / (atol + rtol * std::abs(b[i])));
  return w;
}

mart_adamw_step_params hyper(int64_t step) {
  mart_adamw_step_params h = mart_adamw_default_step_params();
  h.lr = 1e-2f;
  h.weight_decay = 0.1f;
  h.step = step;
  return h;
}

struct Adamw {
  mart_adamw* h = nullptr;
  explicit Adamw(int32_t threads = 0) {
    mart_adamw_params p = mart_adamw_default_params();
    p.n_threads = threads;
    EXPECT_EQ(mart_adamw_create(p, &h), MART_OK) << mart_last_error();
  }
  ~Adamw() { EXPECT_EQ(mart_adamw_destroy(h), MART_OK) << mart_last_error(); }
  int64_t add(size_t n) {
    int64_t id = -1;
    EXPECT_EQ(mart_adamw_add_tensor(h, n, &id), MART_OK) << mart_last_error();
    return id;
  }
};

// Tensor sizes with vector tails (not multiples of 8 or 16) and one split across two workers.
const std::vector<size_t> kSizes = {1, 17, 1000, 4099, 40000};

TEST(CapiAdamw, MatchesTorchAdamWInDoubleOverSeveralStepsAndTensors) {
  Adamw opt;
  std::vector<std::vector<float>> params;
  std::vector<RefAdamW> ref, wrong;
  for (size_t k = 0; k < kSizes.size(); ++k) {
    ASSERT_EQ(opt.add(kSizes[k]), static_cast<int64_t>(k));
    params.push_back(randn(kSizes[k], 0.5f, 100 + k));
    RefAdamW r{std::vector<double>(params[k].begin(), params[k].end()),
               std::vector<double>(kSizes[k]), std::vector<double>(kSizes[k])};
    ref.push_back(r);
    wrong.push_back(r);
  }
  for (int64_t step = 1; step <= 6; ++step) {
    for (size_t k = 0; k < kSizes.size(); ++k) {
      const std::vector<float> g = randn(kSizes[k], 1.0f + k, 1000 * step + k);
      ASSERT_EQ(mart_adamw_step_async(opt.h, k, params[k].data(), g.data(), kSizes[k], hyper(step)),
                MART_OK)
          << mart_last_error();
      ASSERT_EQ(mart_adamw_wait(opt.h), MART_OK);
      ref[k].step(g, hyper(step));
      wrong[k].step(g, hyper(step), /*coupled=*/true);
    }
  }
  for (size_t k = 0; k < kSizes.size(); ++k) {
    std::vector<float> m(kSizes[k]), v(kSizes[k]);
    ASSERT_EQ(mart_adamw_get_state(opt.h, k, m.data(), v.data(), kSizes[k]), MART_OK);
    // fp32 against double: a few ulps of the parameter and of the moments. m = b1 m + (1-b1) g
    // can cancel to near zero, so its absolute error scales with the gradient's (1 + k).
    const double gs = 1.0 + k;
    EXPECT_LE(worst(params[k], ref[k].p, 1e-7, 2e-6), 1.0) << "params of tensor " << k;
    EXPECT_LE(worst(m, ref[k].m, 1e-6 * gs, 1e-5), 1.0) << "exp_avg of tensor " << k;
    EXPECT_LE(worst(v, ref[k].v, 1e-9 * gs * gs, 1e-5), 1.0) << "exp_avg_sq of tensor " << k;
    // Negative control: coupled (L2) weight decay is well outside the same tolerance.
    EXPECT_GT(worst(params[k], wrong[k].p, 1e-7, 2e-6), 10.0) << "tensor " << k;
  }
}

// Runs 3 steps over every tensor; queue_all: queue every tensor then wait once per step.
std::vector<std::vector<float>> run(int32_t threads, bool queue_all) {
  Adamw opt(threads);
  std::vector<std::vector<float>> params;
  for (size_t k = 0; k < kSizes.size(); ++k) {
    opt.add(kSizes[k]);
    params.push_back(randn(kSizes[k], 0.5f, 7 + k));
  }
  std::vector<std::vector<float>> grads;
  for (int64_t step = 1; step <= 3; ++step) {
    grads.clear();
    for (size_t k = 0; k < kSizes.size(); ++k)
      grads.push_back(randn(kSizes[k], 1.0f, 50 * step + k));
    for (size_t k = 0; k < kSizes.size(); ++k) {
      EXPECT_EQ(mart_adamw_step_async(opt.h, k, params[k].data(), grads[k].data(), kSizes[k],
                                      hyper(step)),
                MART_OK)
          << mart_last_error();
      if (!queue_all) {
        EXPECT_EQ(mart_adamw_wait(opt.h), MART_OK);
      }
    }
    EXPECT_EQ(mart_adamw_wait(opt.h), MART_OK);
  }
  for (size_t k = 0; k < kSizes.size(); ++k) {  // append the moments to compare them too
    std::vector<float> m(kSizes[k]), v(kSizes[k]);
    EXPECT_EQ(mart_adamw_get_state(opt.h, k, m.data(), v.data(), kSizes[k]), MART_OK);
    params.push_back(m);
    params.push_back(v);
  }
  return params;
}

TEST(CapiAdamw, QueueingAllThenWaitingGivesTheSameBitsAsWaitingEach) {
  EXPECT_EQ(run(2, true), run(2, false));
}

TEST(CapiAdamw, OneAndTwoThreadsGiveTheSameBits) {
  const auto one = run(1, true), two = run(2, true);
  EXPECT_EQ(one, two);
  // Control: the comparison sees a one-ulp change.
  auto changed = two;
  changed[4][20000] = std::nextafter(changed[4][20000], 1e9f);
  EXPECT_NE(one, changed);
}

TEST(CapiAdamw, StateRoundTripsAndResumesBitwise) {
  const size_t n = 4099;
  std::vector<float> pa = randn(n, 0.5f, 1), pb;
  Adamw a, b;
  a.add(n);
  b.add(n);
  for (int64_t step = 1; step <= 2; ++step) {
    const auto g = randn(n, 1.0f, 10 + step);
    ASSERT_EQ(mart_adamw_step_async(a.h, 0, pa.data(), g.data(), n, hyper(step)), MART_OK);
    ASSERT_EQ(mart_adamw_wait(a.h), MART_OK);
  }
  std::vector<float> m(n), v(n), m2(n), v2(n);
  ASSERT_EQ(mart_adamw_get_state(a.h, 0, m.data(), v.data(), n), MART_OK);
  ASSERT_EQ(mart_adamw_set_state(b.h, 0, m.data(), v.data(), n), MART_OK);
  ASSERT_EQ(mart_adamw_get_state(b.h, 0, m2.data(), v2.data(), n), MART_OK);
  EXPECT_EQ(m, m2);
  EXPECT_EQ(v, v2);
  EXPECT_NE(m, std::vector<float>(n));  // the states are not trivially zero
  pb = pa;
  const auto g = randn(n, 1.0f, 99);
  ASSERT_EQ(mart_adamw_step_async(a.h, 0, pa.data(), g.data(), n, hyper(3)), MART_OK);
  ASSERT_EQ(mart_adamw_step_async(b.h, 0, pb.data(), g.data(), n, hyper(3)), MART_OK);
  ASSERT_EQ(mart_adamw_wait(a.h), MART_OK);
  ASSERT_EQ(mart_adamw_wait(b.h), MART_OK);
  EXPECT_EQ(pa, pb);
}

TEST(CapiAdamw, MisuseIsRefusedWithoutChangingAnything) {
  std::vector<float> p(10, 1.0f), g(10, 0.5f), m(10), v(10);
  const std::vector<float> p0 = p;
  int64_t id = 42;
  // NULL handle and NULL outputs.
  EXPECT_EQ(mart_adamw_add_tensor(nullptr, 10, &id), MART_ERR_INVALID_HANDLE);
  EXPECT_EQ(mart_adamw_step_async(nullptr, 0, p.data(), g.data(), 10, hyper(1)),
            MART_ERR_INVALID_HANDLE);
  EXPECT_EQ(mart_adamw_wait(nullptr), MART_ERR_INVALID_HANDLE);
  EXPECT_EQ(mart_adamw_create(mart_adamw_default_params(), nullptr), MART_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(mart_adamw_destroy(nullptr), MART_OK);
  mart_adamw_params bad = mart_adamw_default_params();
  bad.n_threads = -1;
  mart_adamw* none = nullptr;
  EXPECT_EQ(mart_adamw_create(bad, &none), MART_ERR_INVALID_ARGUMENT);
  bad = mart_adamw_default_params();
  bad.numa_node = 9999;
  EXPECT_EQ(mart_adamw_create(bad, &none), MART_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(none, nullptr);

  Adamw opt;
  EXPECT_EQ(mart_adamw_add_tensor(opt.h, 10, nullptr), MART_ERR_INVALID_ARGUMENT);
  ASSERT_EQ(opt.add(10), 0);
  EXPECT_EQ(id, 42);
  // Wrong numel, unknown ids, NULL arrays, step 0, bad hyperparameters.
  EXPECT_EQ(mart_adamw_step_async(opt.h, 0, p.data(), g.data(), 9, hyper(1)),
            MART_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(mart_last_error()).find("registered with 10 elements"), std::string::npos)
      << mart_last_error();
  for (int64_t bad_id : {int64_t{-1}, int64_t{1}, int64_t{1} << 40})
    EXPECT_EQ(mart_adamw_step_async(opt.h, bad_id, p.data(), g.data(), 10, hyper(1)),
              MART_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(mart_adamw_step_async(opt.h, 0, nullptr, g.data(), 10, hyper(1)),
            MART_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(mart_adamw_step_async(opt.h, 0, p.data(), nullptr, 10, hyper(1)),
            MART_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(mart_adamw_step_async(opt.h, 0, p.data(), p.data(), 10, hyper(1)),
            MART_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(mart_adamw_step_async(opt.h, 0, p.data(), g.data(), 10, hyper(0)),
            MART_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(mart_last_error()).find("step is 0"), std::string::npos);
  mart_adamw_step_params h = hyper(1);
  h.beta1 = 1.0f;
  EXPECT_EQ(mart_adamw_step_async(opt.h, 0, p.data(), g.data(), 10, h), MART_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(mart_adamw_get_state(opt.h, 0, m.data(), v.data(), 11), MART_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(mart_adamw_get_state(opt.h, 3, m.data(), v.data(), 10), MART_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(mart_adamw_set_state(opt.h, 0, nullptr, v.data(), 10), MART_ERR_INVALID_ARGUMENT);
  ASSERT_EQ(mart_adamw_wait(opt.h), MART_OK);
  EXPECT_EQ(p, p0);  // nothing was queued by the refused calls
  ASSERT_EQ(mart_adamw_get_state(opt.h, 0, m.data(), v.data(), 10), MART_OK);
  EXPECT_EQ(m, std::vector<float>(10));

  // A tensor queued twice before a wait: the second is refused, the first still runs.
  ASSERT_EQ(mart_adamw_step_async(opt.h, 0, p.data(), g.data(), 10, hyper(1)), MART_OK);
  EXPECT_EQ(mart_adamw_step_async(opt.h, 0, p.data(), g.data(), 10, hyper(2)),
            MART_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(mart_last_error()).find("already has an update queued"), std::string::npos);
  ASSERT_EQ(mart_adamw_wait(opt.h), MART_OK);
  EXPECT_NE(p, p0);
  EXPECT_EQ(mart_adamw_step_async(opt.h, 0, p.data(), g.data(), 10, hyper(2)), MART_OK);
  ASSERT_EQ(mart_adamw_wait(opt.h), MART_OK);
}

TEST(CapiAdamw, ADestroyedHandleIsInvalid) {
  mart_adamw* h = nullptr;
  ASSERT_EQ(mart_adamw_create(mart_adamw_default_params(), &h), MART_OK);
  int64_t id = -1;
  ASSERT_EQ(mart_adamw_add_tensor(h, 100, &id), MART_OK);
  std::vector<float> p(100, 1.0f), g(100, 1.0f);
  ASSERT_EQ(mart_adamw_step_async(h, id, p.data(), g.data(), 100, hyper(1)), MART_OK);
  ASSERT_EQ(mart_adamw_destroy(h), MART_OK);  // waits for the queued update first
  EXPECT_NE(p, std::vector<float>(100, 1.0f));
  EXPECT_EQ(mart_adamw_wait(h), MART_ERR_INVALID_HANDLE);
  EXPECT_NE(std::string(mart_last_error()).find("destroyed"), std::string::npos);
  EXPECT_EQ(mart_adamw_add_tensor(h, 10, &id), MART_ERR_INVALID_HANDLE);
  EXPECT_EQ(mart_adamw_destroy(h), MART_ERR_INVALID_HANDLE);
}

TEST(CapiAdamw, EmptyTensorsAreAcceptedAndDoNothing) {
  Adamw opt;
  const int64_t id = opt.add(0);
  EXPECT_EQ(mart_adamw_step_async(opt.h, id, nullptr, nullptr, 0, hyper(1)), MART_OK);
  EXPECT_EQ(mart_adamw_step_async(opt.h, id, nullptr, nullptr, 0, hyper(0)),
            MART_ERR_INVALID_ARGUMENT);  // hyperparameters are still checked
  EXPECT_EQ(mart_adamw_wait(opt.h), MART_OK);
}

}  // namespace
