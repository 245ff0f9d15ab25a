#include "runtime/data/data_loader.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "io/file_glob.h"
#include "runtime/data/token_shard.h"
#include "runtime/data/window_order.h"

namespace mart {

// ---- orders ----

const char* data_order_name(DataOrder o) {
  switch (o) {
    case DataOrder::Sequential:
      return "sequential";
    case DataOrder::Shuffle:
      return "shuffle";
    case DataOrder::Random:
      return "random";
  }
  return "?";
}

DataOrder parse_data_order(const std::string& name, const std::string& what) {
  for (DataOrder o : {DataOrder::Sequential, DataOrder::Shuffle, DataOrder::Random})
    if (name == data_order_name(o)) return o;
  MART_FAIL(what, " = '", name, "': unknown; use one of sequential, shuffle, random");
}

// ---- state (de)serialization ----

void to_json(nlohmann::json& j, const LoaderState& s) {
  j = nlohmann::json{{"shard", s.shard},
                     {"position", s.position},
                     {"epoch", s.epoch},
                     {"order", data_order_name(s.order)},
                     {"index", s.index}};
}

void from_json(const nlohmann::json& j, LoaderState& s) {
  MART_CHECK(j.is_object(), "loader state must be a JSON object {shard, position, epoch}, got ",
             j.type_name());
  auto field = [&](const char* key) {
    MART_CHECK(j.contains(key), "loader state JSON is missing field '", key,
               "' (expected {shard, position, epoch}); was it written by another version?");
    MART_CHECK(j[key].is_number_unsigned(), "loader state field '", key,
               "' must be a non-negative integer, got ", j[key].dump());
    return j[key].get<uint64_t>();
  };
  s.shard = field("shard");
  s.position = field("position");
  s.epoch = field("epoch");
  // Absent in states written before data.order existed: those loaders were sequential.
  s.order = DataOrder::Sequential;
  s.index = 0;
  if (j.contains("order")) {
    MART_CHECK(j["order"].is_string(), "loader state field 'order' must be a string, got ",
               j["order"].dump());
    s.order = parse_data_order(j["order"].get<std::string>(), "loader state field 'order'");
  }
  if (j.contains("index")) s.index = field("index");
}

// ---- batches ----

std::vector<int32_t> Batch::inputs() const {
  std::vector<int32_t> out(static_cast<size_t>(batch_size) * seq_len);
  for (int b = 0; b < batch_size; ++b)
    for (int t = 0; t < seq_len; ++t) out[static_cast<size_t>(b) * seq_len + t] = input(b, t);
  return out;
}

std::vector<int32_t> Batch::targets() const {
  std::vector<int32_t> out(static_cast<size_t>(batch_size) * seq_len);
  for (int b = 0; b < batch_size; ++b)
    for (int t = 0; t < seq_len; ++t) out[static_cast<size_t>(b) * seq_len + t] = target(b, t);
  return out;
}

// ---- sources ----

// Produces this rank's windows of T+1 tokens one at a time and owns the resumable position.
class DataLoader::Source {
 public:
  virtual ~Source() = default;
  virtual void next_window(std::span<int32_t> out) = 0;
  virtual LoaderState state() const = 0;
  virtual void restore(const LoaderState& s) = 0;
  virtual void reset() = 0;
  virtual const std::vector<std::string>& paths() const = 0;
  virtual uint64_t windows_per_epoch() const = 0;
};

namespace {

void check_saved_order(const LoaderState& s, DataOrder mine) {
  MART_CHECK(s.order == mine, "data loader: the saved state was written with data.order = ",
             data_order_name(s.order), " but this loader reads in order ", data_order_name(mine),
             "; resume with --set data.order=", data_order_name(s.order),
             " (an old run without data.order in its config was sequential), or start a new run");
}

// A shard's token count, validated in full (header, size, every token < vocab_size), so a bad
// shard fails the run before step 1, not hours in when the walk reaches it.
uint64_t validated_size(const std::string& path, uint32_t vocab_size) {
  return TokenShard(path, vocab_size).size();
}

class ShardSource final : public DataLoader::Source {
 public:
  ShardSource(std::vector<std::string> paths, const LoaderOptions& o)
      : paths_(std::move(paths)), o_(o) {
    MART_CHECK(!paths_.empty(), "data loader: empty shard list");
    const uint64_t T = static_cast<uint64_t>(o.seq_len), W = static_cast<uint64_t>(o.world_size);
    uint64_t total = 0, largest = 0;
    // One sequential pass over the data; each shard is unmapped before the next is read.
    for (const std::string& p : paths_) {
      const uint64_t n = validated_size(p, o.vocab_size);
      const uint64_t windows = n > 0 ? (n - 1) / T : 0;
      groups_.push_back(windows / W);
      total += groups_.back();
      largest = std::max(largest, n);
    }
    MART_CHECK(total > 0, "data loader: no shard is long enough: the largest of ", paths_.size(),
               " shards ('", paths_.front(), "', ...) has ", largest,
               " tokens but world_size x seq_len + 1 = ", W * T + 1,
               " are needed for one batch row per rank; use more data or a smaller seq_len");
    reset();
  }

  void next_window(std::span<int32_t> out) override {
    if (!open_ || open_index_ != s_.shard) {
      open_.reset();  // unmap the old shard before mapping (and scanning) the next one
      open_ = std::make_unique<TokenShard>(paths_[s_.shard], o_.vocab_size);
      open_index_ = s_.shard;
    }
    open_->copy_to(s_.position, out);
    const uint64_t T = static_cast<uint64_t>(o_.seq_len), W = static_cast<uint64_t>(o_.world_size);
    s_.position += W * T;
    if (s_.position / T >= groups_[s_.shard] * W) advance_shard();
  }

  LoaderState state() const override { return s_; }

  void restore(const LoaderState& s) override {
    check_saved_order(s, DataOrder::Sequential);
    const uint64_t T = static_cast<uint64_t>(o_.seq_len), W = static_cast<uint64_t>(o_.world_size);
    MART_CHECK(s.shard < paths_.size(), "data loader: saved state names shard ", s.shard,
               " but the pattern now matches only ", paths_.size(),
               " shards; restore with the same shard set");
    const uint64_t w = s.position / T;
    MART_CHECK(
        s.position % T == 0 && w % W == static_cast<uint64_t>(o_.rank) && w < groups_[s.shard] * W,
        "data loader: saved position ", s.position, " in shard '", paths_[s.shard],
        "' is not a window of rank ", o_.rank, " (seq_len ", T, ", world_size ", W, ", ",
        groups_[s.shard] * W,
        " windows in this shard); was the state saved with another seq_len, world_size, "
        "rank or shard contents?");
    s_ = s;
  }

  void reset() override {
    s_ = LoaderState{};
    s_.position = static_cast<uint64_t>(o_.rank) * static_cast<uint64_t>(o_.seq_len);
    if (groups_[0] == 0) advance_shard();
    s_.epoch = 0;
  }

  const std::vector<std::string>& paths() const override { return paths_; }
  uint64_t windows_per_epoch() const override {
    uint64_t n = 0;
    for (uint64_t g : groups_) n += g;
    return n;
  }

 private:
  // Next shard that has windows for every rank; the constructor guarantees one exists.
  void advance_shard() {
    do {
      if (++s_.shard == paths_.size()) {
        s_.shard = 0;
        ++s_.epoch;
      }
    } while (groups_[s_.shard] == 0);
    s_.position = static_cast<uint64_t>(o_.rank) * static_cast<uint64_t>(o_.seq_len);
  }

  std::vector<std::string> paths_;
  LoaderOptions o_;
  std::vector<uint64_t> groups_;  // windows per rank in each shard
  LoaderState s_;
  std::unique_ptr<TokenShard> open_;
  uint64_t open_index_ = 0;
};

// `shuffle` and `random` over shards (see data_loader.h). Positions are global: a window or an
// offset is a number in [0, total) over the shards in sorted-path order, mapped back to a shard
// through prefix sums.
class ShardSampleSource final : public DataLoader::Source {
 public:
  ShardSampleSource(std::vector<std::string> paths, const LoaderOptions& o)
      : paths_(std::move(paths)), o_(o), open_(paths_.size()) {
    MART_CHECK(!paths_.empty(), "data loader: empty shard list");
    const uint64_t T = static_cast<uint64_t>(o.seq_len), W = static_cast<uint64_t>(o.world_size);
    uint64_t largest = 0;
    for (const std::string& p : paths_) {
      const uint64_t n = validated_size(p, o.vocab_size);
      largest = std::max(largest, n);
      // random: offsets [0, n - T - 1]; shuffle: windows w * T with w < (n - 1) / T.
      const uint64_t count =
          o.order == DataOrder::Random ? (n > T ? n - T : 0) : (n > 0 ? (n - 1) / T : 0);
      starts_.push_back(total_);
      total_ += count;
    }
    const uint64_t need = o.order == DataOrder::Random ? 1 : W;
    MART_CHECK(total_ >= need, "data loader: no shard is long enough: the largest of ",
               paths_.size(), " shards ('", paths_.front(), "', ...) has ", largest, " tokens but ",
               o.order == DataOrder::Random ? T + 1 : W * T + 1,
               " are needed for one batch row per rank; use more data or a smaller seq_len");
    usable_ = total_ / W * W;
    reset();
  }

  void next_window(std::span<int32_t> out) override {
    const uint64_t W = static_cast<uint64_t>(o_.world_size);
    uint64_t global = 0;
    if (o_.order == DataOrder::Random) {
      global =
          uniform_below(counter_hash(o_.seed, static_cast<uint64_t>(o_.rank), s_.index), total_);
      ++s_.index;
    } else {
      global = epoch_permutation()(s_.index);
      s_.index += W;
      if (s_.index >= usable_) {
        ++s_.epoch;
        s_.index = static_cast<uint64_t>(o_.rank);
      }
    }
    const size_t shard = static_cast<size_t>(
        std::upper_bound(starts_.begin(), starts_.end(), global) - starts_.begin() - 1);
    uint64_t offset = global - starts_[shard];
    if (o_.order == DataOrder::Shuffle) offset *= static_cast<uint64_t>(o_.seq_len);
    shard_at(shard).copy_to(offset, out);
  }

  LoaderState state() const override { return s_; }

  void restore(const LoaderState& s) override {
    check_saved_order(s, o_.order);
    const uint64_t W = static_cast<uint64_t>(o_.world_size);
    MART_CHECK(s.shard == 0 && s.position == 0, "data loader: saved ", data_order_name(o_.order),
               " state has shard ", s.shard, " position ", s.position,
               ", which only a sequential loader sets; was it edited?");
    if (o_.order == DataOrder::Random)
      MART_CHECK(s.epoch == 0, "data loader: saved random-order state has epoch ", s.epoch,
                 " (random order has no epochs); was it edited?");
    else
      MART_CHECK(s.index % W == static_cast<uint64_t>(o_.rank) && s.index < usable_,
                 "data loader: saved shuffle slot ", s.index, " is not a slot of rank ", o_.rank,
                 " (world_size ", W, ", ", usable_,
                 " windows per epoch); was the state saved with another seq_len, world_size, "
                 "rank or shard set?");
    s_ = s;
    perm_.reset();
  }

  void reset() override {
    s_ = LoaderState{};
    s_.order = o_.order;
    if (o_.order == DataOrder::Shuffle) s_.index = static_cast<uint64_t>(o_.rank);
    perm_.reset();
  }

  const std::vector<std::string>& paths() const override { return paths_; }
  uint64_t windows_per_epoch() const override {
    return o_.order == DataOrder::Random ? total_ : usable_ / static_cast<uint64_t>(o_.world_size);
  }

 private:
  // The permutation of this epoch's windows; the same on every rank (keyed by seed and epoch).
  const IndexPermutation& epoch_permutation() {
    if (!perm_ || perm_epoch_ != s_.epoch) {
      perm_ = std::make_unique<IndexPermutation>(total_, counter_hash(o_.seed, ~0ull, s_.epoch));
      perm_epoch_ = s_.epoch;
    }
    return *perm_;
  }

  // Mapped (and validated again, in case the file changed) when first read, then kept.
  const TokenShard& shard_at(size_t i) {
    if (!open_[i]) open_[i] = std::make_unique<TokenShard>(paths_[i], o_.vocab_size);
    return *open_[i];
  }

  std::vector<std::string> paths_;
  LoaderOptions o_;
  std::vector<uint64_t> starts_;  // first global window/offset of each shard
  uint64_t total_ = 0, usable_ = 0;
  LoaderState s_;
  std::vector<std::unique_ptr<TokenShard>> open_;
  std::unique_ptr<IndexPermutation> perm_;
  uint64_t perm_epoch_ = 0;
};

class MarkovWindowSource final : public DataLoader::Source {
 public:
  // shuffle / random: the stream's first 2^40 blocks are its "windows" (data_loader.h).
  static constexpr uint64_t kBlocks = uint64_t{1} << 40;

  MarkovWindowSource(std::shared_ptr<const MarkovSource> source, uint64_t seed,
                     const LoaderOptions& o)
      : stream_(std::move(source), seed), o_(o), buf_(static_cast<size_t>(o.seq_len) + 1) {
    MART_CHECK(stream_.source().vocab() <= o.vocab_size, "data loader: the Markov corpus has ",
               stream_.source().vocab(), " symbols but the model vocab_size is ", o.vocab_size,
               "; set data.synthetic_vocab <= model.vocab_size");
    usable_ = kBlocks / static_cast<uint64_t>(o.world_size) * static_cast<uint64_t>(o.world_size);
    reset();
  }

  void next_window(std::span<int32_t> out) override {
    const uint64_t W = static_cast<uint64_t>(o_.world_size);
    uint64_t pos = 0;
    switch (o_.order) {
      case DataOrder::Sequential:
        pos = s_.position;
        s_.position += W * static_cast<uint64_t>(o_.seq_len);
        break;
      case DataOrder::Random:
        pos = MarkovStream::kBlockLength *
              uniform_below(counter_hash(o_.seed, static_cast<uint64_t>(o_.rank), s_.index++),
                            kBlocks);
        break;
      case DataOrder::Shuffle:
        if (!perm_ || perm_epoch_ != s_.epoch) {
          perm_ =
              std::make_unique<IndexPermutation>(kBlocks, counter_hash(o_.seed, ~0ull, s_.epoch));
          perm_epoch_ = s_.epoch;
        }
        pos = MarkovStream::kBlockLength * (*perm_)(s_.index);
        s_.index += W;
        if (s_.index >= usable_) {
          ++s_.epoch;
          s_.index = static_cast<uint64_t>(o_.rank);
        }
        break;
    }
    stream_.read(pos, buf_);
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int32_t>(buf_[i]);
  }

  LoaderState state() const override { return s_; }

  void restore(const LoaderState& s) override {
    check_saved_order(s, o_.order);
    const uint64_t T = static_cast<uint64_t>(o_.seq_len), W = static_cast<uint64_t>(o_.world_size);
    MART_CHECK(s.shard == 0 && (s.epoch == 0 || o_.order == DataOrder::Shuffle),
               "data loader: saved state has shard ", s.shard, " epoch ", s.epoch,
               " but the synthetic Markov stream has neither; was it saved by a shard loader?");
    if (o_.order == DataOrder::Sequential)
      MART_CHECK(s.position % T == 0 && (s.position / T) % W == static_cast<uint64_t>(o_.rank),
                 "data loader: saved stream position ", s.position, " is not a window of rank ",
                 o_.rank, " (seq_len ", T, ", world_size ", W,
                 "); was the state saved with another seq_len, world_size or rank?");
    if (o_.order == DataOrder::Shuffle)
      MART_CHECK(s.index % W == static_cast<uint64_t>(o_.rank) && s.index < usable_,
                 "data loader: saved shuffle slot ", s.index, " is not a slot of rank ", o_.rank,
                 " (world_size ", W, "); was the state saved with another world_size or rank?");
    s_ = s;
  }

  void reset() override {
    s_ = LoaderState{};
    s_.order = o_.order;
    if (o_.order == DataOrder::Sequential)
      s_.position = static_cast<uint64_t>(o_.rank) * static_cast<uint64_t>(o_.seq_len);
    if (o_.order == DataOrder::Shuffle) s_.index = static_cast<uint64_t>(o_.rank);
  }

  const std::vector<std::string>& paths() const override { return no_paths_; }
  uint64_t windows_per_epoch() const override { return 0; }

 private:
  MarkovStream stream_;
  LoaderOptions o_;
  std::vector<uint32_t> buf_;
  LoaderState s_;
  uint64_t usable_ = 0;
  std::unique_ptr<IndexPermutation> perm_;
  uint64_t perm_epoch_ = 0;
  std::vector<std::string> no_paths_;
};

void check_options(const LoaderOptions& o) {
  MART_CHECK(o.batch_size >= 1, "data loader: batch_size ", o.batch_size, " must be >= 1");
  MART_CHECK(o.seq_len >= 1, "data loader: seq_len ", o.seq_len, " must be >= 1");
  MART_CHECK(o.world_size >= 1 && o.rank >= 0 && o.rank < o.world_size, "data loader: rank ",
             o.rank, " must be in [0, world_size = ", o.world_size, ")");
  MART_CHECK(o.vocab_size >= 1, "data loader: vocab_size must be set (model.vocab_size)");
}

}  // namespace

// ---- loader ----

DataLoader::DataLoader(std::unique_ptr<Source> source, const LoaderOptions& options)
    : source_(std::move(source)), options_(options) {}
DataLoader::~DataLoader() = default;
DataLoader::DataLoader(DataLoader&&) noexcept = default;
DataLoader& DataLoader::operator=(DataLoader&&) noexcept = default;

DataLoader DataLoader::from_shards(const std::string& pattern, const LoaderOptions& options) {
  return from_shard_paths(expand_glob(pattern), options);
}

DataLoader DataLoader::from_shard_paths(std::vector<std::string> paths,
                                        const LoaderOptions& options) {
  check_options(options);
  if (options.order == DataOrder::Sequential)
    return DataLoader(std::make_unique<ShardSource>(std::move(paths), options), options);
  return DataLoader(std::make_unique<ShardSampleSource>(std::move(paths), options), options);
}

DataLoader DataLoader::from_markov(std::shared_ptr<const MarkovSource> source, uint64_t stream_seed,
                                   const LoaderOptions& options) {
  check_options(options);
  MART_CHECK(source != nullptr, "data loader: null Markov source");
  return DataLoader(std::make_unique<MarkovWindowSource>(std::move(source), stream_seed, options),
                    options);
}

void DataLoader::next_tokens(std::span<int32_t> tokens) {
  const size_t row = static_cast<size_t>(options_.seq_len) + 1;
  MART_CHECK(tokens.size() == static_cast<size_t>(options_.batch_size) * row,
             "data loader: token buffer has ", tokens.size(), " elements, expected batch_size x (",
             "seq_len + 1) = ", options_.batch_size, " x ", row);
  for (int b = 0; b < options_.batch_size; ++b)
    source_->next_window(tokens.subspan(static_cast<size_t>(b) * row, row));
}

Batch DataLoader::next_batch() {
  Batch batch;
  batch.batch_size = options_.batch_size;
  batch.seq_len = options_.seq_len;
  batch.tokens.resize(static_cast<size_t>(options_.batch_size) * (options_.seq_len + 1));
  next_tokens(batch.tokens);
  return batch;
}

void DataLoader::next(std::span<int32_t> inputs, std::span<int32_t> targets) {
  const size_t T = static_cast<size_t>(options_.seq_len);
  const size_t n = static_cast<size_t>(options_.batch_size) * T;
  MART_CHECK(inputs.size() == n && targets.size() == n, "data loader: inputs/targets have ",
             inputs.size(), "/", targets.size(), " elements, expected batch_size x seq_len = ", n);
  std::vector<int32_t> row(T + 1);
  for (int b = 0; b < options_.batch_size; ++b) {
    source_->next_window(row);
    std::copy(row.begin(), row.end() - 1, inputs.begin() + static_cast<std::ptrdiff_t>(b * T));
    std::copy(row.begin() + 1, row.end(), targets.begin() + static_cast<std::ptrdiff_t>(b * T));
  }
}

void DataLoader::next_window(std::span<int32_t> row) {
  MART_CHECK(row.size() == static_cast<size_t>(options_.seq_len) + 1, "data loader: row has ",
             row.size(), " elements, expected seq_len + 1 = ", options_.seq_len + 1);
  source_->next_window(row);
}

uint64_t DataLoader::windows_per_epoch() const {
  return source_->windows_per_epoch();
}

LoaderState DataLoader::state() const {
  return source_->state();
}
void DataLoader::restore(const LoaderState& state) {
  source_->restore(state);
}
void DataLoader::reset() {
  source_->reset();
}
const LoaderOptions& DataLoader::options() const {
  return options_;
}
const std::vector<std::string>& DataLoader::shard_paths() const {
  return source_->paths();
}

}  // namespace mart
