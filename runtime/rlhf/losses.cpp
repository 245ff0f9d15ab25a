#include "runtime/rlhf/losses.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <utility>

#include "common/error.h"

namespace mart::rlhf {

namespace {

// torch.maximum's backward: the share of the gradient that goes to `a` in max(a, b).
double max_share(double a, double b) {
  return a > b ? 1.0 : (a == b ? 0.5 : 0.0);
}

// torch.clamp's backward: the gradient passes where lo <= x <= hi.
double clamp_pass(double x, double lo, double hi) {
  return x >= lo && x <= hi ? 1.0 : 0.0;
}

void check_inputs(std::initializer_list<std::pair<const char*, size_t>> arrays,
                  std::span<const uint8_t> mask, TokenShape shape) {
  for (const auto& [name, size] : arrays) check_size(name, static_cast<int64_t>(size), shape);
  check_mask(mask, shape);
}

}  // namespace

void reduction_weights(std::span<const uint8_t> mask, TokenShape shape, Reduction r,
                       std::span<double> w) {
  check_size("reduction weights", w.size(), shape);
  check_mask(mask, shape);
  std::fill(w.begin(), w.end(), 0.0);
  if (r == Reduction::kTokenMean) {
    const int64_t n = masked_count(mask);
    for (size_t i = 0; i < w.size(); ++i)
      if (mask[i]) w[i] = 1.0 / static_cast<double>(n);
    return;
  }
  int64_t rows = 0;
  for (int64_t b = 0; b < shape.batch; ++b) rows += masked_length(mask, shape, b) > 0;
  for (int64_t b = 0; b < shape.batch; ++b) {
    const int64_t len = masked_length(mask, shape, b);
    for (int64_t t = 0; t < shape.time; ++t) {
      const int64_t i = b * shape.time + t;
      if (mask[i]) w[i] = 1.0 / (static_cast<double>(len) * static_cast<double>(rows));
    }
  }
}

PolicyLossResult clipped_policy_loss(std::span<const double> logp, std::span<const double> logp_old,
                                     std::span<const double> advantages,
                                     std::span<const uint8_t> mask, TokenShape shape,
                                     double clip_eps, Reduction reduction,
                                     std::span<double> grad_logp) {
  check_inputs({{"logp", logp.size()},
                {"logp_old", logp_old.size()},
                {"advantages", advantages.size()},
                {"grad_logp", grad_logp.size()}},
               mask, shape);
  MART_CHECK(clip_eps > 0 && clip_eps < 1, "PPO clip epsilon is ", clip_eps,
             "; use a value in (0, 1) (typically 0.2)");
  reduction_weights(mask, shape, reduction, grad_logp);  // w, overwritten below with the grad
  const double lo = 1.0 - clip_eps, hi = 1.0 + clip_eps;
  PolicyLossResult res;
  int64_t n = 0;
  for (size_t i = 0; i < logp.size(); ++i) {
    if (!mask[i]) continue;
    const double w = grad_logp[i];
    const double log_ratio = logp[i] - logp_old[i];
    const double ratio = std::exp(log_ratio);
    const double a = advantages[i];
    const double l1 = -a * ratio;
    const double l2 = -a * std::clamp(ratio, lo, hi);
    res.loss += w * std::max(l1, l2);
    const double s1 = max_share(l1, l2);
    // d l1 / d logp = -A ratio;  d l2 / d logp = -A ratio [lo <= ratio <= hi]
    grad_logp[i] = w * (-a * ratio) * (s1 + (1.0 - s1) * clamp_pass(ratio, lo, hi));
    res.clip_fraction += l2 > l1 ? 1.0 : 0.0;
    res.approx_kl += (ratio - 1.0) - log_ratio;
    ++n;
  }
  if (n > 0) {
    res.clip_fraction /= static_cast<double>(n);
    res.approx_kl /= static_cast<double>(n);
  }
  return res;
}

ValueLossResult clipped_value_loss(std::span<const double> values,
                                   std::span<const double> values_old,
                                   std::span<const double> returns, std::span<const uint8_t> mask,
                                   TokenShape shape, double clip_eps_v,
                                   std::span<double> grad_values) {
  check_inputs({{"values", values.size()},
                {"values_old", values_old.size()},
                {"returns", returns.size()},
                {"grad_values", grad_values.size()}},
               mask, shape);
  MART_CHECK(clip_eps_v > 0 && std::isfinite(clip_eps_v), "PPO value clip epsilon is ", clip_eps_v,
             "; use a finite value > 0 (typically 0.2)");
  reduction_weights(mask, shape, Reduction::kTokenMean, grad_values);
  ValueLossResult res;
  int64_t n = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!mask[i]) continue;
    const double w = grad_values[i];
    const double v = values[i], r = returns[i];
    const double lo = values_old[i] - clip_eps_v, hi = values_old[i] + clip_eps_v;
    const double vc = std::clamp(v, lo, hi);
    const double e1 = (v - r) * (v - r), e2 = (vc - r) * (vc - r);
    res.loss += w * 0.5 * std::max(e1, e2);
    const double s1 = max_share(e1, e2);
    // d (0.5 e1) / dV = V - R;  d (0.5 e2) / dV = (clip(V) - R) [lo <= V <= hi]
    grad_values[i] = w * (s1 * (v - r) + (1.0 - s1) * (vc - r) * clamp_pass(v, lo, hi));
    res.clip_fraction += e2 > e1 ? 1.0 : 0.0;
    ++n;
  }
  if (n > 0) res.clip_fraction /= static_cast<double>(n);
  return res;
}

double kl_k3_loss(std::span<const double> logp, std::span<const double> logp_ref,
                  std::span<const uint8_t> mask, TokenShape shape, double beta, Reduction reduction,
                  std::span<double> grad_logp) {
  check_inputs(
      {{"logp", logp.size()}, {"logp_ref", logp_ref.size()}, {"grad_logp", grad_logp.size()}}, mask,
      shape);
  MART_CHECK(beta >= 0 && std::isfinite(beta), "GRPO KL beta is ", beta,
             "; use a finite beta >= 0 (0 turns the KL term off)");
  reduction_weights(mask, shape, reduction, grad_logp);
  double loss = 0;
  for (size_t i = 0; i < logp.size(); ++i) {
    if (!mask[i]) continue;
    const double w = grad_logp[i];
    const double d = logp_ref[i] - logp[i];
    const double e = std::exp(d);
    loss += w * beta * (e - d - 1.0);
    grad_logp[i] = w * beta * (1.0 - e);
  }
  return loss;
}

}  // namespace mart::rlhf
