#include "runtime/model/init.h"

#include <cmath>
#include <cstddef>
#include <string>

#include "common/rng.h"

namespace mart {

namespace {

// The k-th 64-bit output of the SplitMix64 stream that starts at `key`, computed directly:
// SplitMix64's state after k steps is key + k * gamma, so any position costs one mix and no
// position depends on another. This is what lets threads split a tensor anywhere.
inline uint64_t hash_at(uint64_t key, uint64_t k) {
  uint64_t state = key + k * 0x9e3779b97f4a7c15ull;
  return splitmix64(state);
}

// Two N(0, 1) samples from one 64-bit hash, by Box-Muller in float. u1 takes the top 23 bits
// and is strictly inside (0, 1) (no log(0)); u2 the low 24 bits, in [0, 1). 23 bits give the
// radius at most sqrt(2 ln 2^24) ~ 5.8 sigma, plenty for an initialisation. Float keeps this
// several times cheaper than double and every operation is exact or one libm call, so the same
// (seed, tensor, element) gives the same bits on any thread count.
inline void normal_pair(uint64_t h, float& a, float& b) {
  const float u1 = (static_cast<float>(h >> 41) + 0.5f) * 0x1.0p-23f;
  const float u2 = static_cast<float>(h & 0xffffffull) * 0x1.0p-24f;
  const float r = std::sqrt(-2.0f * std::log(u1));
  const float t = 6.28318530717958647692f * u2;
  a = r * std::cos(t);
  b = r * std::sin(t);
}

// out[i] = std * N(0, 1), element pair j drawn from hash_at(key, j): the value of each element
// depends only on (key, i), never on which thread computes it or how the range is split.
void fill_normal(float* out, size_t n, uint64_t key, float std) {
  const int64_t pairs = static_cast<int64_t>(n / 2);
  // Small tensors (biases, norms of tiny models) are not worth waking the thread team.
#pragma omp parallel for schedule(static) if (pairs > (int64_t{1} << 15))
  for (int64_t j = 0; j < pairs; j++) {
    float a, b;
    normal_pair(hash_at(key, static_cast<uint64_t>(j)), a, b);
    out[2 * j] = std * a;
    out[2 * j + 1] = std * b;
  }
  if (n % 2) {  // the odd last element takes the first value of its pair
    float a, b;
    normal_pair(hash_at(key, static_cast<uint64_t>(pairs)), a, b);
    out[n - 1] = std * a;
  }
}

bool ends_with(const std::string& s, const char* suffix) {
  const std::string x(suffix);
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

}  // namespace

std::vector<float> init_param(const ModelSpec& spec, int id, uint64_t seed) {
  const ParamInfo& p = spec.params[id];
  const bool is_norm = p.name.find("ln_") != std::string::npos ||
                       p.name.find("layernorm") != std::string::npos ||
                       p.name.find("norm.weight") != std::string::npos;
  if (ends_with(p.name, ".bias")) return std::vector<float>(p.numel, 0.0f);
  if (is_norm) return std::vector<float>(p.numel, 1.0f);
  double std = spec.cfg.init_std;
  const bool residual_proj = p.name.find("c_proj.weight") != std::string::npos ||
                             p.name.find("o_proj.weight") != std::string::npos ||
                             p.name.find("down_proj.weight") != std::string::npos;
  if (residual_proj) std /= std::sqrt(2.0 * spec.cfg.n_layer);
  std::vector<float> out(p.numel);
  fill_normal(out.data(), out.size(), mix_seed(seed, static_cast<uint64_t>(id)),
              static_cast<float>(std));
  return out;
}

}  // namespace mart
