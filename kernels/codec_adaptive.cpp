// Adaptive per-layer error bound: the controller of kernels/codec_adaptive.h.
#include "kernels/codec_adaptive.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"

namespace mart::codec {

AdaptiveBound::AdaptiveBound(int layers, const AdaptiveConfig& cfg) : cfg_(cfg) {
  MART_CHECK(layers >= 0, "adaptive bound: layers = ", layers, " must be >= 0");
  MART_CHECK(cfg.eb_min > 0 && cfg.eb_min <= cfg.eb_max && std::isfinite(cfg.eb_max),
             "adaptive bound: need 0 < eb_min <= eb_max < inf, got [", cfg.eb_min, ", ", cfg.eb_max,
             "]");
  MART_CHECK(cfg.eb_max <= std::numeric_limits<float>::max(), "adaptive bound: eb_max ", cfg.eb_max,
             " does not fit a float");
  MART_CHECK(cfg.eb_init >= cfg.eb_min && cfg.eb_init <= cfg.eb_max, "adaptive bound: eb_init ",
             cfg.eb_init, " is outside [eb_min, eb_max] = [", cfg.eb_min, ", ", cfg.eb_max, "]");
  MART_CHECK(cfg.target > 0 && std::isfinite(cfg.target), "adaptive bound: target ", cfg.target,
             " must be finite and > 0");
  MART_CHECK(cfg.low > 0 && cfg.low < 1, "adaptive bound: low ", cfg.low, " must be in (0, 1)");
  MART_CHECK(cfg.tighten > 0 && cfg.tighten < 1, "adaptive bound: tighten ", cfg.tighten,
             " must be in (0, 1)");
  MART_CHECK(cfg.loosen > 1 && std::isfinite(cfg.loosen), "adaptive bound: loosen ", cfg.loosen,
             " must be > 1");
  MART_CHECK(cfg.patience >= 1, "adaptive bound: patience ", cfg.patience, " must be >= 1");
  MART_CHECK(cfg.period >= 1, "adaptive bound: period ", cfg.period, " must be >= 1");
  eb_.assign(static_cast<size_t>(layers), cfg.eb_init);
  low_streak_.assign(static_cast<size_t>(layers), 0);
  last_.assign(static_cast<size_t>(layers), BoundAction::Hold);
}

float AdaptiveBound::eb(int layer) const {
  MART_CHECK(layer >= 0 && layer < layers(), "adaptive bound: layer ", layer, " out of range [0, ",
             layers(), ")");
  return static_cast<float>(eb_[static_cast<size_t>(layer)]);
}

BoundAction AdaptiveBound::last_action(int layer) const {
  MART_CHECK(layer >= 0 && layer < layers(), "adaptive bound: layer ", layer, " out of range [0, ",
             layers(), ")");
  return last_[static_cast<size_t>(layer)];
}

BoundAction AdaptiveBound::observe(int layer, double metric) {
  MART_CHECK(layer >= 0 && layer < layers(), "adaptive bound: layer ", layer, " out of range [0, ",
             layers(), ")");
  MART_CHECK(metric >= 0 && std::isfinite(metric), "adaptive bound: layer ", layer, " metric ",
             metric, " must be finite and >= 0");
  const size_t l = static_cast<size_t>(layer);
  BoundAction a = BoundAction::Hold;
  if (metric > cfg_.target) {
    low_streak_[l] = 0;
    eb_[l] = std::max(cfg_.eb_min, eb_[l] * cfg_.tighten);
    a = BoundAction::Tighten;
  } else if (metric < cfg_.low * cfg_.target) {
    if (++low_streak_[l] >= cfg_.patience) {
      low_streak_[l] = 0;
      eb_[l] = std::min(cfg_.eb_max, eb_[l] * cfg_.loosen);
      a = BoundAction::Loosen;
    }
  } else {
    low_streak_[l] = 0;
  }
  last_[l] = a;
  return a;
}

double relative_l2_error(const float* ref, const float* approx, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    const double r = ref[i], d = static_cast<double>(approx[i]) - r;
    num += d * d;
    den += r * r;
  }
  if (den == 0) return num == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  return std::sqrt(num / den);
}

}  // namespace mart::codec
