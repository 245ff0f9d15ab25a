#include "runtime/rlhf/kl_controller.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace mart::rlhf {

namespace {

void check_value(double v) {
  MART_CHECK(std::isfinite(v) && v >= 0, "KL coefficient is ", v,
             "; use a finite coefficient >= 0 (kl_coef / init)");
}

class FixedKl final : public KlController {
 public:
  explicit FixedKl(double v) : v_(v) {}
  double value() const override { return v_; }
  void update(double, int64_t) override {}
  void set_value(double v) override {
    check_value(v);
    v_ = v;
  }

 private:
  double v_;
};

class AdaptiveKl final : public KlController {
 public:
  AdaptiveKl(double init, double target, double horizon)
      : v_(init), target_(target), horizon_(horizon) {}
  double value() const override { return v_; }
  void update(double observed_kl, int64_t n_steps) override {
    MART_CHECK(std::isfinite(observed_kl), "adaptive KL controller got KL ", observed_kl,
               "; the rollout's log-probs are broken (NaN or inf)");
    MART_CHECK(n_steps >= 0, "adaptive KL controller got n_steps ", n_steps, "; use >= 0");
    const double e = std::clamp(observed_kl / target_ - 1.0, -0.2, 0.2);
    const double mult = 1.0 + e * static_cast<double>(n_steps) / horizon_;
    MART_CHECK(mult > 0, "adaptive KL controller: n_steps ", n_steps, " over horizon ", horizon_,
               " would make the coefficient non-positive; use a horizon >= n_steps / 5");
    v_ *= mult;
  }
  void set_value(double v) override {
    check_value(v);
    v_ = v;
  }

 private:
  double v_, target_, horizon_;
};

}  // namespace

std::unique_ptr<KlController> make_kl_controller(const KlControlConfig& cfg) {
  check_value(cfg.init);
  if (cfg.kind == KlControl::kFixed) return std::make_unique<FixedKl>(cfg.init);
  MART_CHECK(std::isfinite(cfg.target) && cfg.target > 0, "adaptive KL target is ", cfg.target,
             "; use a KL target > 0 in nats (e.g. 6)");
  MART_CHECK(std::isfinite(cfg.horizon) && cfg.horizon > 0, "adaptive KL horizon is ", cfg.horizon,
             "; use a horizon > 0 (e.g. 10000)");
  return std::make_unique<AdaptiveKl>(cfg.init, cfg.target, cfg.horizon);
}

}  // namespace mart::rlhf
