// Adaptive per-layer error bound for the activation codec (COMET's idea; docs/DESIGN.md §3).
// The bound each layer's saved activations may carry is chosen from how much error reaches the
// gradients, and adapted during training:
//
//   every `period` steps the caller measures, per layer, an error metric m_l: ideally the relative
//   gradient error the compression causes (||g_lossy - g_exact|| / ||g_exact|| for that layer's
//   weight gradient, from one step run twice), or cheaper, propagated_error(): the relative L2
//   error of the reconstructed activations (relative_l2_error) times a propagation gain measured
//   occasionally (gain = relative gradient error / relative activation error).
//
//   Controller (per layer, deterministic, no state beyond eb and a counter):
//     m_l > target               -> eb *= tighten (< 1) at once (safety first)
//     m_l < low * target         -> after `patience` consecutive such measurements,
//                                   eb *= loosen (> 1)
//     otherwise (inside the band) -> hold
//     eb is clamped to [eb_min, eb_max].
//   With error roughly proportional to eb and loosen < 1/low and tighten >= low (the defaults:
//   band [0.25, 1] x target, factors 0.5 and 1.25) a step never jumps across the band, so the
//   bound settles inside it and stays (tests/kernels_codec/codec_adaptive_test.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mart::codec {

struct AdaptiveConfig {
  double eb_init = 1e-2;  // starting bound of every layer (absolute, like the codec's eb)
  double eb_min = 1e-5;   // never tighter than this
  double eb_max = 1e-1;   // never looser than this
  double target = 1e-2;   // the metric the controller aims to keep below
  double low = 0.25;      // loosen when the metric is below low * target (0 < low < 1)
  double tighten = 0.5;   // multiplicative step down (0 < tighten < 1)
  double loosen = 1.25;   // multiplicative step up (> 1)
  int patience = 2;       // consecutive low measurements before loosening (>= 1)
  int64_t period = 100;   // measure every `period` steps (>= 1)
};

enum class BoundAction { Hold, Tighten, Loosen };

class AdaptiveBound {
 public:
  // Throws mart::Error naming the bad field for an inconsistent config.
  AdaptiveBound(int layers, const AdaptiveConfig& cfg);

  int layers() const { return static_cast<int>(eb_.size()); }
  const AdaptiveConfig& config() const { return cfg_; }
  // The bound to encode layer `layer` with (as float, what codec::encode takes).
  float eb(int layer) const;
  // Whether step `step` is a measurement step (step % period == 0).
  bool should_measure(int64_t step) const { return step % cfg_.period == 0; }
  // Feeds one measurement of layer `layer` (finite, >= 0) and applies the rule; returns the action.
  BoundAction observe(int layer, double metric);
  BoundAction last_action(int layer) const;

 private:
  AdaptiveConfig cfg_;
  std::vector<double> eb_;
  std::vector<int> low_streak_;
  std::vector<BoundAction> last_;
};

// ||approx - ref||_2 / ||ref||_2 over n values, accumulated in double in index order (0 when both
// are zero, +inf when only ref is zero).
double relative_l2_error(const float* ref, const float* approx, size_t n);
// Estimated gradient error: activation relative error times the layer's measured propagation gain.
inline double propagated_error(double act_rel_err, double gain) {
  return act_rel_err * gain;
}

}  // namespace mart::codec
