// The built-in synthetic corpus: an order-k Markov source over V symbols. Its entropy rate is
// known exactly, so a training run on it has a hard floor to compare the loss against (a model
// that learns the source reaches loss == entropy_rate_nats()), with no dataset download.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/rng.h"

namespace mart {

struct MarkovSpec {
  uint32_t vocab = 32;     // V symbols, tokens 0..V-1
  uint32_t order = 2;      // k: the next symbol depends on the previous k
  uint32_t branching = 3;  // non-zero next-symbol choices per context, in [1, V]
  uint64_t seed = 1234;    // determines the transition tables
};

// Transition tables: for each of the V^k contexts (the last k symbols, most recent last, encoded
// base V), a sparse next-symbol distribution. Random tables pick `branching` distinct symbols per
// context and weights u^2 + 0.02 (u uniform) from the project RNG -- plain IEEE arithmetic, no
// libm, so the tables are bit-identical on every platform. Construction also computes the
// stationary distribution over contexts (power iteration) for entropy_rate_nats() and for
// starting stream blocks in a stationary state.
class MarkovSource {
 public:
  // Random tables from spec. Throws mart::Error when V < 2, branching not in [1, V], V^k above
  // 2^22 contexts, or V^k * branching above 2^26 table entries (memory), naming the field.
  explicit MarkovSource(const MarkovSpec& spec);
  // Explicit tables: probs[ctx * V + sym] = P(sym | ctx), rows summing to 1 (within 1e-9).
  // For hand-built chains in tests and experiments.
  MarkovSource(uint32_t vocab, uint32_t order, std::span<const double> probs);

  uint32_t vocab() const { return vocab_; }
  uint32_t order() const { return order_; }
  uint64_t num_contexts() const { return num_ctx_; }

  // P(sym | ctx); 0 for symbols outside the context's support.
  double prob(uint64_t ctx, uint32_t sym) const;
  // Context index of the last `order()` symbols (most recent last).
  uint64_t context_of(std::span<const uint32_t> last_k) const;
  // The context after emitting `sym` in context `ctx`.
  uint64_t next_context(uint64_t ctx, uint32_t sym) const {
    return order_ == 0 ? 0 : (ctx % ctx_mod_) * vocab_ + sym;
  }
  // The i-th symbol (0 = oldest) of a context.
  uint32_t context_symbol(uint64_t ctx, uint32_t i) const;
  // Inverse-CDF samples: next symbol given u in [0,1); a context drawn from the stationary
  // distribution given u.
  uint32_t sample_next(uint64_t ctx, double u) const;
  uint64_t sample_context(double u) const;

  // Stationary distribution over contexts: the limit of the lazy chain (P + I)/2 started from
  // uniform, iterated until the estimated L1 error is below 1e-12 (or steps stop changing at
  // double precision). The lazy step makes periodic chains converge too and leaves pi unchanged.
  // Cost: O(contexts x branching) per iteration, typically tens to hundreds of iterations.
  const std::vector<double>& stationary() const { return pi_; }
  // Exact entropy rate H = sum_ctx pi(ctx) * H(next | ctx), in nats per token.
  double entropy_rate_nats() const { return entropy_; }

 private:
  void finish();  // builds CDFs, stationary distribution, entropy
  uint32_t vocab_ = 0, order_ = 0;
  uint64_t num_ctx_ = 0, ctx_mod_ = 1;
  // CSR rows; entries fit uint32 (<= 2^26). sym_/p_ serve lookups and the stationary solve;
  // draw_ interleaves each entry's running CDF with its symbol so sampling a token touches one
  // cache line per context instead of three arrays (the random walk is memory-bound).
  struct Draw {
    double cdf;
    uint32_t sym;
  };
  std::vector<uint32_t> row_;  // num_ctx_ + 1 offsets
  std::vector<uint32_t> sym_;  // support symbols, ascending within a row
  std::vector<double> p_;      // probabilities
  std::vector<Draw> draw_;
  uint32_t fixed_branching_ = 0;  // every row this long (random tables): no row_ lookup to sample
  std::vector<double> pi_, pi_cdf_;
  double entropy_ = 0;
};

// An infinite, deterministic token stream from a source and a seed, addressable by position so a
// data loader can resume exactly from a saved position. The stream is a sequence of independent
// blocks of kBlockLength tokens; each block starts in a context drawn from the stationary
// distribution (its first k tokens are that context's symbols) and then follows the chain, with a
// per-block RNG seeded from (seed, block index). Seeking therefore replays at most one block.
// Consequence: the transition into each block start is not a model transition (about one token
// in 65536), which is negligible for training and excluded when measuring cross-entropy.
class MarkovStream {
 public:
  static constexpr uint64_t kBlockLength = uint64_t{1} << 16;

  MarkovStream(std::shared_ptr<const MarkovSource> source, uint64_t seed);

  uint64_t position() const { return pos_; }
  void seek(uint64_t pos);
  uint32_t next();
  // Tokens [pos, pos + out.size()); cheap when pos is at or just behind position() (sequential
  // or overlapping-by-one windows), otherwise it seeks.
  void read(uint64_t pos, std::span<uint32_t> out);
  const MarkovSource& source() const { return *source_; }

 private:
  std::shared_ptr<const MarkovSource> source_;
  uint64_t seed_;
  uint64_t pos_ = 0;        // position of the token next() returns
  uint64_t ctx_ = 0;        // context before pos_ (valid once the block has started)
  Xoshiro256 rng_;          // the current block's generator
  bool have_last_ = false;  // last_ holds the token at pos_ - 1
  uint32_t last_ = 0;
};

}  // namespace mart
