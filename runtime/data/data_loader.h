// Deterministic batch loader over llm.c token shards or the synthetic Markov stream.
//
// A batch is B rows of T+1 consecutive tokens: inputs are the first T, targets the last T
// (shifted by one). Rows are "windows": window w of a token sequence covers [w*T, w*T + T + 1),
// so consecutive windows overlap by one token and every token is a target exactly once.
//
// Shards: windows are walked shard by shard in sorted-path order; rank r of world_size W takes
// windows r, r+W, r+2W, ... of each shard. Each shard contributes floor(windows / W) * W windows
// (the tail is dropped, like llm.c) so all ranks take the same number per shard and stay in step.
// After the last shard the walk wraps to the first and `epoch` increments.
// Markov: the same windows over the infinite stream; epoch and shard stay 0.
//
// Orders (LoaderOptions::order, config data.order). The above is `sequential`. The others draw
// from options.seed (train.seed) with counter-based randomness (window_order.h), so they are
// deterministic and resume bitwise from a LoaderState:
//   random   each row starts at a uniformly random token offset, as nanoGPT's get_batch
//            (randint(len - T)): uniform over every (shard, offset) pair with T+1 tokens, i.e. the
//            shard is chosen in proportion to its windows. Rank r draws its own stream (seeded
//            with r too), so ranks read different windows. State: `index` = rows drawn.
//   shuffle  a fresh permutation of all windows (the sequential windows of every shard) each
//            epoch; rank r takes permuted slots r, r+W, r+2W, ... so ranks stay disjoint; the
//            last N mod W slots of an epoch are dropped. State: `epoch` and `index` = next slot.
//   Markov: a window starts at one of 2^40 block starts of the stream (blocks are independent
//   stationary walks, so that is a random window of the chain, read without replaying a block);
//   random draws the block, shuffle permutes the 2^40 blocks.
// Shards a shuffle/random walk has opened stay mapped (each is validated once, when first read).
//
// The loader's position is a LoaderState; saving it (to JSON) after k batches and restoring it into
// a fresh loader with the same sources and options yields exactly the same next batches.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>
#include <vector>

#include "runtime/data/markov_corpus.h"

namespace mart {

enum class DataOrder { Sequential, Shuffle, Random };

const char* data_order_name(DataOrder o);
// "sequential", "shuffle" or "random"; throws mart::Error naming `what` (e.g. "data.order").
DataOrder parse_data_order(const std::string& name, const std::string& what);

struct LoaderOptions {
  int batch_size = 8;       // B
  int seq_len = 128;        // T
  int rank = 0;             // this process's data-parallel rank
  int world_size = 1;       // data-parallel ranks
  uint32_t vocab_size = 0;  // every token must be < vocab_size (model.vocab_size)
  DataOrder order = DataOrder::Sequential;
  uint64_t seed = 0;  // shuffle / random (train.seed)
};

struct LoaderState {
  uint64_t shard = 0;     // index into the sorted shard list
  uint64_t position = 0;  // token offset of this rank's next window (w * T)
  uint64_t epoch = 0;     // completed passes over all shards
  DataOrder order = DataOrder::Sequential;
  uint64_t index = 0;  // random: rows drawn; shuffle: next permuted slot of this epoch
  bool operator==(const LoaderState&) const = default;
};

// JSON {"shard", "position", "epoch", "order", "index"}. from_json throws mart::Error naming a
// missing or non-integer field; a state without "order"/"index" (written before data.order
// existed) reads as sequential.
void to_json(nlohmann::json& j, const LoaderState& s);
void from_json(const nlohmann::json& j, LoaderState& s);

struct Batch {
  int batch_size = 0;
  int seq_len = 0;
  std::vector<int32_t> tokens;  // batch_size x (seq_len + 1), row-major

  int32_t input(int b, int t) const { return tokens[static_cast<size_t>(b) * (seq_len + 1) + t]; }
  int32_t target(int b, int t) const {
    return tokens[static_cast<size_t>(b) * (seq_len + 1) + t + 1];
  }
  std::vector<int32_t> inputs() const;   // batch_size x seq_len
  std::vector<int32_t> targets() const;  // batch_size x seq_len
};

class DataLoader {
 public:
  // Shards matching `pattern` (expand_glob: sorted; error naming the pattern if none). Every
  // shard is validated now, header and tokens (each < vocab_size; the error names the shard, the
  // token's index and its value), and again whenever the walk opens it (the file may have changed).
  // Throws when no shard holds world_size windows of seq_len + 1 tokens.
  static DataLoader from_shards(const std::string& pattern, const LoaderOptions& options);
  static DataLoader from_shard_paths(std::vector<std::string> paths, const LoaderOptions& options);
  // The Markov stream of `source` with `stream_seed` (use different seeds for train and val).
  static DataLoader from_markov(std::shared_ptr<const MarkovSource> source, uint64_t stream_seed,
                                const LoaderOptions& options);

  ~DataLoader();
  DataLoader(DataLoader&&) noexcept;
  DataLoader& operator=(DataLoader&&) noexcept;

  Batch next_batch();
  // Fills B x (T+1) tokens, row-major (the layout of Batch::tokens).
  void next_tokens(std::span<int32_t> tokens);
  // Fills inputs and targets, B x T each.
  void next(std::span<int32_t> inputs, std::span<int32_t> targets);
  // One row of seq_len + 1 tokens (the next window), whatever batch_size is.
  void next_window(std::span<int32_t> row);
  // This rank's windows in one pass over the data in this order (sequential: its windows of all
  // shards; shuffle: its slots of an epoch; random: the distinct start offsets); 0 for the
  // unbounded Markov stream.
  uint64_t windows_per_epoch() const;

  LoaderState state() const;
  // Throws mart::Error when the state does not fit these shards/options (shard index out of range,
  // position not one of this rank's windows -- saved with another seq_len, world_size or shard
  // set?; or saved with another data.order).
  void restore(const LoaderState& state);
  // Back to the first window (epoch 0): for re-running a fixed validation set.
  void reset();

  const LoaderOptions& options() const;
  // The shard paths in walk order (empty for a Markov loader).
  const std::vector<std::string>& shard_paths() const;

  class Source;  // implementation detail (data_loader.cpp)

 private:
  DataLoader(std::unique_ptr<Source> source, const LoaderOptions& options);
  std::unique_ptr<Source> source_;
  LoaderOptions options_;
};

}  // namespace mart
