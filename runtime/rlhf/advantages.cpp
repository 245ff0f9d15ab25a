#include "runtime/rlhf/advantages.h"

#include <cmath>

#include "common/error.h"

namespace mart::rlhf {

namespace {

// sum (x - m)^2 / (n - 1) or / n.
double variance_of(double sum_sq_dev, int64_t n, Variance v) {
  return v == Variance::kUnbiased ? sum_sq_dev / static_cast<double>(n - 1)
                                  : sum_sq_dev / static_cast<double>(n);
}

int64_t min_count(Variance v) {
  return v == Variance::kUnbiased ? 2 : 1;
}

}  // namespace

KlPenaltyStats per_token_rewards(std::span<const double> logp_old, std::span<const double> logp_ref,
                                 std::span<const double> score, std::span<const uint8_t> mask,
                                 TokenShape shape, double kl_coef, std::span<double> rewards) {
  check_size("logp_old", logp_old.size(), shape);
  check_size("logp_ref", logp_ref.size(), shape);
  check_size("rewards", rewards.size(), shape);
  MART_CHECK(static_cast<int64_t>(score.size()) == shape.batch, "score has ", score.size(),
             " entries but the batch has ", shape.batch, " sequences; pass one score per row");
  check_prefix_mask(mask, shape);
  KlPenaltyStats st;
  int64_t tokens = 0;
  for (int64_t b = 0; b < shape.batch; ++b) {
    double row_kl = 0;
    for (int64_t t = 0; t < shape.time; ++t) {
      const int64_t i = b * shape.time + t;
      if (!mask[i]) {
        rewards[i] = 0;
        continue;
      }
      const double kl = logp_old[i] - logp_ref[i];
      rewards[i] = -kl_coef * kl;
      row_kl += kl;
      ++tokens;
    }
    const int64_t len = masked_length(mask, shape, b);
    if (len > 0) rewards[b * shape.time + len - 1] += score[b];
    st.kl_token_mean += row_kl;
    st.kl_seq_mean += row_kl;
  }
  st.kl_token_mean = tokens ? st.kl_token_mean / static_cast<double>(tokens) : 0.0;
  st.kl_seq_mean = shape.batch ? st.kl_seq_mean / static_cast<double>(shape.batch) : 0.0;
  return st;
}

void gae(std::span<const double> rewards, std::span<const double> values,
         std::span<const uint8_t> mask, TokenShape shape, double gamma, double lambda,
         std::span<double> advantages, std::span<double> returns) {
  check_size("rewards", rewards.size(), shape);
  check_size("values", values.size(), shape);
  check_size("advantages", advantages.size(), shape);
  check_size("returns", returns.size(), shape);
  check_prefix_mask(mask, shape);
  MART_CHECK(gamma >= 0 && gamma <= 1, "GAE gamma is ", gamma, "; use a discount in [0, 1]");
  MART_CHECK(lambda >= 0 && lambda <= 1, "GAE lambda is ", lambda, "; use a value in [0, 1]");
  for (int64_t b = 0; b < shape.batch; ++b) {
    const int64_t row = b * shape.time;
    const int64_t len = masked_length(mask, shape, b);
    double next_value = 0, next_adv = 0;
    for (int64_t t = shape.time - 1; t >= len; --t) advantages[row + t] = returns[row + t] = 0;
    for (int64_t t = len - 1; t >= 0; --t) {
      const double v = values[row + t];
      const double delta = rewards[row + t] + gamma * next_value - v;
      const double a = delta + gamma * lambda * next_adv;
      advantages[row + t] = a;
      returns[row + t] = a + v;
      next_value = v;
      next_adv = a;
    }
  }
}

MeanVar whiten(std::span<double> x, std::span<const uint8_t> mask, TokenShape shape,
               const WhitenOptions& opt) {
  check_size("whiten input", x.size(), shape);
  check_mask(mask, shape);
  MART_CHECK(opt.eps >= 0, "whitening eps is ", opt.eps, "; use eps >= 0 (default 1e-8)");
  const int64_t n = masked_count(mask);
  MART_CHECK(n >= min_count(opt.variance), "whitening needs at least ", min_count(opt.variance),
             " masked tokens for this variance, got ", n,
             "; use a larger batch (or Variance::kPopulation for a single token)");
  MeanVar mv;
  for (size_t i = 0; i < x.size(); ++i)
    if (mask[i]) mv.mean += x[i];
  mv.mean /= static_cast<double>(n);
  double ss = 0;
  for (size_t i = 0; i < x.size(); ++i)
    if (mask[i]) ss += (x[i] - mv.mean) * (x[i] - mv.mean);
  mv.var = variance_of(ss, n, opt.variance);
  const double inv_std = 1.0 / std::sqrt(mv.var + opt.eps);
  MART_CHECK(std::isfinite(inv_std), "whitening: the masked entries have variance ", mv.var,
             " and eps is ", opt.eps, ", so 1/sqrt(var + eps) is not finite; use eps > 0");
  const double shift = opt.shift_mean ? 0.0 : mv.mean;
  for (size_t i = 0; i < x.size(); ++i) x[i] = mask[i] ? (x[i] - mv.mean) * inv_std + shift : 0.0;
  return mv;
}

void grpo_advantages(std::span<const double> score, std::span<const uint8_t> mask, TokenShape shape,
                     const GrpoOptions& opt, std::span<double> advantages) {
  check_size("advantages", advantages.size(), shape);
  check_mask(mask, shape);
  const int64_t G = opt.group_size;
  MART_CHECK(static_cast<int64_t>(score.size()) == shape.batch, "score has ", score.size(),
             " entries but the batch has ", shape.batch, " sequences; pass one score per row");
  MART_CHECK(G >= min_count(opt.variance), "GRPO group_size is ", G, "; the ",
             opt.variance == Variance::kUnbiased ? "unbiased" : "population",
             " std needs at least ", min_count(opt.variance), " samples per prompt");
  MART_CHECK(shape.batch % G == 0, "GRPO batch of ", shape.batch,
             " sequences is not a whole number of groups of ", G,
             "; generate group_size samples for every prompt");
  MART_CHECK(opt.eps >= 0, "GRPO eps is ", opt.eps, "; use eps >= 0 (default 1e-4)");
  for (int64_t g0 = 0; g0 < shape.batch; g0 += G) {
    bool all_equal = true;
    double mean = 0;
    for (int64_t i = g0; i < g0 + G; ++i) {
      mean += score[i];
      all_equal = all_equal && score[i] == score[g0];
    }
    mean /= static_cast<double>(G);
    double ss = 0;
    for (int64_t i = g0; i < g0 + G; ++i) ss += (score[i] - mean) * (score[i] - mean);
    const double denom = std::sqrt(variance_of(ss, G, opt.variance)) + opt.eps;
    MART_CHECK(all_equal || denom > 0, "GRPO group starting at row ", g0,
               " has a zero std and eps = 0; use eps > 0");
    for (int64_t i = g0; i < g0 + G; ++i) {
      // Equal scores: exactly 0 (the rounded mean could otherwise leave ~1e-13 residues).
      const double a = all_equal ? 0.0 : (score[i] - mean) / denom;
      for (int64_t t = 0; t < shape.time; ++t) {
        const int64_t k = i * shape.time + t;
        advantages[k] = mask[k] ? a : 0.0;
      }
    }
  }
}

}  // namespace mart::rlhf
