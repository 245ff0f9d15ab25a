// Weight initialisation (runtime/model/init.h): a counter-based generator keyed by (seed, tensor,
// element), so the values are bitwise the same on any OpenMP thread count, with the right
// distribution (normal, mean 0, std init_std; residual projections scaled by 1/sqrt(2 n_layer)),
// and different seeds and tensors drawing different values.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/model/init.h"
#include "runtime/model/model_spec.h"

namespace mart {
namespace {

// A hand-made spec: init_param reads only the names, sizes, init_std and n_layer.
ModelSpec spec_of(const std::vector<std::pair<std::string, uint64_t>>& tensors) {
  ModelSpec s;
  s.cfg.init_std = 0.02f;
  s.cfg.n_layer = 8;
  for (const auto& [name, numel] : tensors) {
    ParamInfo p;
    p.name = name;
    p.numel = numel;
    s.params.push_back(p);
  }
  return s;
}

// 2^21 + 1 elements: far above the size that goes parallel, and odd, so the last lone element
// and an uneven split over 3 threads are both exercised.
constexpr uint64_t kBig = (uint64_t{1} << 21) + 1;
const ModelSpec kSpec = spec_of({{"model.layers.0.mlp.up_proj.weight", kBig},
                                 {"model.layers.0.mlp.down_proj.weight", kBig},
                                 {"model.layers.0.self_attn.q_proj.weight", 4099},
                                 {"model.layers.0.input_layernorm.weight", 64},
                                 {"h.0.attn.c_attn.bias", 96}});

std::vector<float> init_on_threads(int threads, int id, uint64_t seed) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  std::vector<float> v = init_param(kSpec, id, seed);
  omp_set_num_threads(saved);
  return v;
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

struct Moments {
  double mean = 0, std = 0, within_1_sigma = 0;  // fraction with |x - mean| < std
};
Moments moments_of(const std::vector<float>& v) {
  Moments m;
  for (float x : v) m.mean += x;
  m.mean /= double(v.size());
  for (float x : v) m.std += (x - m.mean) * (x - m.mean);
  m.std = std::sqrt(m.std / double(v.size()));
  for (float x : v) m.within_1_sigma += std::fabs(x - m.mean) < m.std;
  m.within_1_sigma /= double(v.size());
  return m;
}

// Normal with mean 0 and standard deviation `std`: bounds are ~6 standard errors for n = 2^21
// (se(mean) = std / 1448, se(std) = std / 2048, se(fraction within 1 sigma) = 3.2e-4).
::testing::AssertionResult looks_normal(const std::vector<float>& v, double std) {
  const Moments m = moments_of(v);
  if (std::fabs(m.mean) > 5e-3 * std || std::fabs(m.std / std - 1.0) > 3e-3 ||
      std::fabs(m.within_1_sigma - 0.682689) > 2e-3)
    return ::testing::AssertionFailure()
           << "mean " << m.mean << " std " << m.std << " (want 0, " << std << ") within 1 sigma "
           << m.within_1_sigma << " (want 0.6827)";
  return ::testing::AssertionSuccess();
}

TEST(InitWeights, BitwiseIndependentOfThreadCount) {
  for (int id : {0, 2}) {
    const auto one = init_on_threads(1, id, 1234);
    EXPECT_TRUE(bitwise_equal(one, init_on_threads(2, id, 1234))) << "tensor " << id;
    EXPECT_TRUE(bitwise_equal(one, init_on_threads(3, id, 1234))) << "tensor " << id;
  }
}

TEST(InitWeights, WeightsAreNormalWithInitStd) {
  EXPECT_TRUE(looks_normal(init_param(kSpec, 0, 1234), 0.02));
  // Residual projections: std / sqrt(2 * n_layer) = 0.02 / 4.
  EXPECT_TRUE(looks_normal(init_param(kSpec, 1, 1234), 0.005));
}

TEST(InitWeights, StatisticsCheckRejectsAWrongStd) {
  // Negative control for the bounds above: a 1% larger std, or the unscaled std on a residual
  // projection, must fail them.
  std::vector<float> v = init_param(kSpec, 0, 1234);
  for (float& x : v) x *= 1.01f;
  EXPECT_FALSE(looks_normal(v, 0.02));
  EXPECT_FALSE(looks_normal(init_param(kSpec, 1, 1234), 0.02));
}

TEST(InitWeights, NormsAreOneAndBiasesZero) {
  for (float x : init_param(kSpec, 3, 1234)) ASSERT_EQ(x, 1.0f);
  for (float x : init_param(kSpec, 4, 1234)) ASSERT_EQ(x, 0.0f);
}

TEST(InitWeights, SeedsAndTensorsDrawDifferentValues) {
  const auto a = init_param(kSpec, 2, 1234);
  const auto b = init_param(kSpec, 2, 1235);
  EXPECT_TRUE(bitwise_equal(a, init_param(kSpec, 2, 1234))) << "same seed, same values";
  size_t same = 0;
  for (size_t i = 0; i < a.size(); i++) same += a[i] == b[i];
  EXPECT_LT(same, 4u) << "seeds 1234 and 1235 give nearly the same tensor";
  // Tensors 0 and 1 have the same size and (up to the scale) the same distribution.
  const auto t0 = init_param(kSpec, 0, 1234), t1 = init_param(kSpec, 1, 1234);
  size_t proportional = 0;
  for (size_t i = 0; i < 1000; i++) proportional += t1[i] == t0[i] * 0.25f;
  EXPECT_LT(proportional, 10u) << "tensors 0 and 1 draw from the same stream";
}

}  // namespace
}  // namespace mart
