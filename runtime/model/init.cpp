#include "runtime/model/init.h"

#include <cmath>
#include <string>

#include "common/rng.h"

namespace mart {

std::vector<float> init_param(const ModelSpec& spec, int id, uint64_t seed) {
  const ParamInfo& p = spec.params[id];
  std::vector<float> out(p.numel);
  const bool is_norm = p.name.find("ln_") != std::string::npos ||
                       p.name.find("layernorm") != std::string::npos ||
                       p.name.find("norm.weight") != std::string::npos;
  const bool is_bias = p.name.size() >= 5 && p.name.compare(p.name.size() - 5, 5, ".bias") == 0;
  if (is_bias) return out;  // zeros
  if (is_norm) {
    for (auto& x : out) x = 1.0f;
    return out;
  }
  double std = spec.cfg.init_std;
  const bool residual_proj = p.name.find("c_proj.weight") != std::string::npos ||
                             p.name.find("o_proj.weight") != std::string::npos ||
                             p.name.find("down_proj.weight") != std::string::npos;
  if (residual_proj) std /= std::sqrt(2.0 * spec.cfg.n_layer);
  Xoshiro256 rng(mix_seed(seed, static_cast<uint64_t>(id)));
  // Box-Muller, two normals per pair of uniforms.
  for (uint64_t i = 0; i < p.numel; i += 2) {
    double u1 = rng.uniform_open(), u2 = rng.uniform();
    double r = std::sqrt(-2.0 * std::log(u1)), t = 2.0 * M_PI * u2;
    out[i] = static_cast<float>(std * r * std::cos(t));
    if (i + 1 < p.numel) out[i + 1] = static_cast<float>(std * r * std::sin(t));
  }
  return out;
}

}  // namespace mart
