#include "runtime/data/markov_corpus.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace mart {

namespace {

constexpr uint64_t kMaxContexts = uint64_t{1} << 22;
constexpr uint64_t kMaxEntries = uint64_t{1} << 26;
constexpr double kStationaryTol = 1e-12;
constexpr double kNoiseFloor = 1e-15;  // L1 rounding noise of one step over a probability vector
constexpr int kMaxPowerIterations = 100000;

// V^k, or 0 when it exceeds kMaxContexts (so huge orders cannot overflow).
uint64_t count_contexts(uint32_t vocab, uint32_t order) {
  uint64_t n = 1;
  for (uint32_t i = 0; i < order; ++i) {
    n *= vocab;
    if (n > kMaxContexts) return 0;
  }
  return n;
}

void check_shape(uint32_t vocab, uint32_t order) {
  MART_CHECK(vocab >= 2, "markov corpus: vocab (data.synthetic_vocab) is ", vocab,
             "; it must be at least 2");
  MART_CHECK(count_contexts(vocab, order) != 0, "markov corpus: vocab^order = ", vocab, "^", order,
             " contexts exceeds the limit of 2^22 (4194304); lower data.synthetic_order or "
             "data.synthetic_vocab");
}

}  // namespace

MarkovSource::MarkovSource(const MarkovSpec& spec) : vocab_(spec.vocab), order_(spec.order) {
  check_shape(vocab_, order_);
  MART_CHECK(spec.branching >= 1 && spec.branching <= vocab_,
             "markov corpus: branching (data.synthetic_branching) is ", spec.branching,
             "; it must be in [1, vocab = ", vocab_, "]");
  num_ctx_ = count_contexts(vocab_, order_);
  MART_CHECK(num_ctx_ * spec.branching <= kMaxEntries, "markov corpus: ", num_ctx_,
             " contexts x branching ", spec.branching, " = ", num_ctx_ * spec.branching,
             " table entries exceeds the limit of 2^26; lower order, vocab or branching");

  const uint32_t b = spec.branching;
  row_.resize(num_ctx_ + 1);
  sym_.resize(num_ctx_ * b);
  p_.resize(num_ctx_ * b);
  Xoshiro256 rng(spec.seed);
  std::vector<uint8_t> taken(vocab_, 0);
  std::vector<uint32_t> chosen;
  for (uint64_t ctx = 0; ctx < num_ctx_; ++ctx) {
    // Floyd's algorithm: b distinct symbols in exactly b draws, whatever b/V is.
    chosen.clear();
    for (uint32_t j = vocab_ - b; j < vocab_; ++j) {
      uint32_t t = static_cast<uint32_t>(rng.below(uint64_t{j} + 1));
      if (taken[t]) t = j;
      taken[t] = 1;
      chosen.push_back(t);
    }
    std::sort(chosen.begin(), chosen.end());
    double total = 0;
    row_[ctx] = static_cast<uint32_t>(ctx * b);
    for (uint32_t i = 0; i < b; ++i) {
      taken[chosen[i]] = 0;
      // Skewed but bounded weights (max/min <= 51): a mix of likely and rare continuations.
      const double u = rng.uniform();
      const double w = u * u + 0.02;
      sym_[ctx * b + i] = chosen[i];
      p_[ctx * b + i] = w;
      total += w;
    }
    for (uint32_t i = 0; i < b; ++i) p_[ctx * b + i] /= total;
  }
  row_[num_ctx_] = static_cast<uint32_t>(num_ctx_ * b);
  fixed_branching_ = b;
  finish();
}

MarkovSource::MarkovSource(uint32_t vocab, uint32_t order, std::span<const double> probs)
    : vocab_(vocab), order_(order) {
  check_shape(vocab_, order_);
  num_ctx_ = count_contexts(vocab_, order_);
  MART_CHECK(probs.size() == num_ctx_ * vocab_, "markov corpus: explicit table has ", probs.size(),
             " entries; expected contexts x vocab = ", num_ctx_, " x ", vocab_, " = ",
             num_ctx_ * vocab_);
  row_.assign(1, 0);
  for (uint64_t ctx = 0; ctx < num_ctx_; ++ctx) {
    double total = 0;
    for (uint32_t s = 0; s < vocab_; ++s) {
      const double p = probs[ctx * vocab_ + s];
      MART_CHECK(std::isfinite(p) && p >= 0, "markov corpus: P(", s, " | context ", ctx, ") = ", p,
                 " is not a probability");
      total += p;
    }
    MART_CHECK(std::fabs(total - 1.0) <= 1e-9, "markov corpus: probabilities of context ", ctx,
               " sum to ", total, "; each row must sum to 1");
    for (uint32_t s = 0; s < vocab_; ++s) {
      const double p = probs[ctx * vocab_ + s];
      if (p > 0) {
        sym_.push_back(s);
        p_.push_back(p / total);
      }
    }
    row_.push_back(static_cast<uint32_t>(sym_.size()));
  }
  finish();
}

void MarkovSource::finish() {
  ctx_mod_ = order_ == 0 ? 1 : num_ctx_ / vocab_;

  draw_.resize(p_.size());
  for (uint64_t ctx = 0; ctx < num_ctx_; ++ctx) {
    double run = 0;
    for (uint32_t e = row_[ctx]; e < row_[ctx + 1]; ++e) draw_[e] = Draw{run += p_[e], sym_[e]};
    // Exactly 1 at the end so any u < 1 lands inside the row despite rounding.
    draw_[row_[ctx + 1] - 1].cdf = 1.0;
  }

  // Stationary distribution of the lazy chain (P + I) / 2 from the uniform start. Stop when the
  // remaining error, estimated from the geometric convergence rate r of the L1 change as
  // change * r / (1 - r), is below 1e-12 -- a small change alone can hide a large error on slowly
  // mixing chains -- or when the change reaches double-precision noise.
  std::vector<double> pi(num_ctx_, 1.0 / static_cast<double>(num_ctx_)), nxt(num_ctx_);
  double change = 0, prev_change = 0, est_error = 0;
  bool converged = false;
  for (int iter = 0; iter < kMaxPowerIterations && !converged; ++iter) {
    for (uint64_t c = 0; c < num_ctx_; ++c) nxt[c] = 0.5 * pi[c];
    for (uint64_t c = 0; c < num_ctx_; ++c) {
      const double mass = 0.5 * pi[c];
      if (mass == 0) continue;
      for (uint64_t e = row_[c]; e < row_[c + 1]; ++e)
        nxt[next_context(c, sym_[e])] += mass * p_[e];
    }
    change = 0;
    for (uint64_t c = 0; c < num_ctx_; ++c) change += std::fabs(nxt[c] - pi[c]);
    pi.swap(nxt);
    if (iter > 0) {
      const double r = prev_change > 0 ? change / prev_change : 0.0;
      est_error = r < 1 ? change * r / (1 - r) : HUGE_VAL;
      converged = est_error < kStationaryTol || change < kNoiseFloor;
    }
    prev_change = change;
  }
  MART_CHECK(converged, "markov corpus: stationary distribution did not converge to ",
             kStationaryTol, " after ", kMaxPowerIterations, " power iterations (last L1 change ",
             change, "); the chain mixes too slowly -- raise data.synthetic_branching");
  double total = 0;
  for (double v : pi) total += v;
  for (double& v : pi) v /= total;
  pi_ = std::move(pi);

  pi_cdf_.resize(num_ctx_);
  double run = 0;
  uint64_t last_live = 0;
  for (uint64_t c = 0; c < num_ctx_; ++c) {
    pi_cdf_[c] = run += pi_[c];
    if (pi_[c] > 0) last_live = c;
  }
  // From the last context with mass on, the CDF is exactly 1: u < 1 never selects a context
  // with zero stationary probability.
  for (uint64_t c = last_live; c < num_ctx_; ++c) pi_cdf_[c] = 1.0;

  entropy_ = 0;
  for (uint64_t c = 0; c < num_ctx_; ++c) {
    double h = 0;
    for (uint64_t e = row_[c]; e < row_[c + 1]; ++e) h -= p_[e] * std::log(p_[e]);
    entropy_ += pi_[c] * h;
  }
}

double MarkovSource::prob(uint64_t ctx, uint32_t sym) const {
  MART_CHECK(ctx < num_ctx_, "markov corpus: context ", ctx, " out of range (", num_ctx_, ")");
  const auto b = sym_.begin() + static_cast<std::ptrdiff_t>(row_[ctx]);
  const auto e = sym_.begin() + static_cast<std::ptrdiff_t>(row_[ctx + 1]);
  const auto it = std::lower_bound(b, e, sym);
  return it != e && *it == sym ? p_[static_cast<size_t>(it - sym_.begin())] : 0.0;
}

uint64_t MarkovSource::context_of(std::span<const uint32_t> last_k) const {
  MART_CHECK(last_k.size() == order_, "markov corpus: context needs ", order_, " symbols, got ",
             last_k.size());
  uint64_t ctx = 0;
  for (uint32_t s : last_k) {
    MART_CHECK(s < vocab_, "markov corpus: symbol ", s, " out of range (vocab ", vocab_, ")");
    ctx = ctx * vocab_ + s;
  }
  return ctx;
}

uint32_t MarkovSource::context_symbol(uint64_t ctx, uint32_t i) const {
  uint64_t div = 1;
  for (uint32_t j = i + 1; j < order_; ++j) div *= vocab_;
  return static_cast<uint32_t>((ctx / div) % vocab_);
}

uint32_t MarkovSource::sample_next(uint64_t ctx, double u) const {
  const Draw* e;
  const Draw* last;
  if (fixed_branching_) {
    e = draw_.data() + ctx * fixed_branching_;
    last = e + fixed_branching_ - 1;
  } else {
    e = draw_.data() + row_[ctx];
    last = draw_.data() + row_[ctx + 1] - 1;
  }
  if (last - e > 16) {  // wide rows: bisect for the first cdf > u
    e = std::upper_bound(e, last, u, [](double v, const Draw& d) { return v < d.cdf; });
    return e->sym;
  }
  while (e < last && e->cdf <= u) ++e;  // typical short rows: a scan beats bisection
  return e->sym;
}

uint64_t MarkovSource::sample_context(double u) const {
  const auto it = std::min(std::upper_bound(pi_cdf_.begin(), pi_cdf_.end(), u), pi_cdf_.end() - 1);
  return static_cast<uint64_t>(it - pi_cdf_.begin());
}

// ---- stream ----

MarkovStream::MarkovStream(std::shared_ptr<const MarkovSource> source, uint64_t seed)
    : source_(std::move(source)), seed_(seed), rng_(0) {
  MART_CHECK(source_ != nullptr, "markov stream: null source");
}

uint32_t MarkovStream::next() {
  const uint64_t off = pos_ % kBlockLength;
  if (off == 0) {
    rng_ = Xoshiro256(mix_seed(seed_, pos_ / kBlockLength));
    ctx_ = source_->sample_context(rng_.uniform());
  }
  uint32_t tok;
  if (off < source_->order()) {
    tok = source_->context_symbol(ctx_, static_cast<uint32_t>(off));
  } else {
    tok = source_->sample_next(ctx_, rng_.uniform());
    ctx_ = source_->next_context(ctx_, tok);
  }
  ++pos_;
  last_ = tok;
  have_last_ = true;
  return tok;
}

void MarkovStream::seek(uint64_t pos) {
  if (pos == pos_) return;
  // Within the current block and ahead of us: just run forward. Otherwise replay pos's block.
  if (!(pos > pos_ && pos / kBlockLength == pos_ / kBlockLength)) {
    pos_ = pos - pos % kBlockLength;
    have_last_ = false;
  }
  while (pos_ < pos) next();
}

void MarkovStream::read(uint64_t pos, std::span<uint32_t> out) {
  size_t i = 0;
  if (!out.empty() && have_last_ && pos + 1 == pos_) {
    out[0] = last_;  // overlapping windows share one token: no replay
    i = 1;
  } else {
    seek(pos);
  }
  for (; i < out.size(); ++i) out[i] = next();
}

}  // namespace mart
