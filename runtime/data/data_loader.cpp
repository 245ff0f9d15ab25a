#include "runtime/data/data_loader.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "io/file_glob.h"
#include "runtime/data/token_shard.h"

namespace mart {

// ---- state (de)serialization ----

void to_json(nlohmann::json& j, const LoaderState& s) {
  j = nlohmann::json{{"shard", s.shard}, {"position", s.position}, {"epoch", s.epoch}};
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
};

namespace {

class ShardSource final : public DataLoader::Source {
 public:
  ShardSource(std::vector<std::string> paths, const LoaderOptions& o)
      : paths_(std::move(paths)), o_(o) {
    MART_CHECK(!paths_.empty(), "data loader: empty shard list");
    const uint64_t T = static_cast<uint64_t>(o.seq_len), W = static_cast<uint64_t>(o.world_size);
    uint64_t total = 0, largest = 0;
    // Every shard is validated in full now -- header, size and every token < vocab_size -- so a
    // bad shard fails the run before step 1, not hours in when the walk reaches it. One
    // sequential pass over the data; each shard is unmapped before the next is read.
    for (const std::string& p : paths_) {
      const uint64_t n = TokenShard(p, o.vocab_size).size();
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

class MarkovWindowSource final : public DataLoader::Source {
 public:
  MarkovWindowSource(std::shared_ptr<const MarkovSource> source, uint64_t seed,
                     const LoaderOptions& o)
      : stream_(std::move(source), seed), o_(o), buf_(static_cast<size_t>(o.seq_len) + 1) {
    MART_CHECK(stream_.source().vocab() <= o.vocab_size, "data loader: the Markov corpus has ",
               stream_.source().vocab(), " symbols but the model vocab_size is ", o.vocab_size,
               "; set data.synthetic_vocab <= model.vocab_size");
    reset();
  }

  void next_window(std::span<int32_t> out) override {
    stream_.read(position_, buf_);
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int32_t>(buf_[i]);
    position_ += static_cast<uint64_t>(o_.world_size) * static_cast<uint64_t>(o_.seq_len);
  }

  LoaderState state() const override { return LoaderState{0, position_, 0}; }

  void restore(const LoaderState& s) override {
    const uint64_t T = static_cast<uint64_t>(o_.seq_len), W = static_cast<uint64_t>(o_.world_size);
    MART_CHECK(s.shard == 0 && s.epoch == 0, "data loader: saved state has shard ", s.shard,
               " epoch ", s.epoch,
               " but the synthetic Markov stream has neither; was it saved by a shard loader?");
    MART_CHECK(s.position % T == 0 && (s.position / T) % W == static_cast<uint64_t>(o_.rank),
               "data loader: saved stream position ", s.position, " is not a window of rank ",
               o_.rank, " (seq_len ", T, ", world_size ", W,
               "); was the state saved with another seq_len, world_size or rank?");
    position_ = s.position;
  }

  void reset() override {
    position_ = static_cast<uint64_t>(o_.rank) * static_cast<uint64_t>(o_.seq_len);
  }

  const std::vector<std::string>& paths() const override { return no_paths_; }

 private:
  MarkovStream stream_;
  LoaderOptions o_;
  std::vector<uint32_t> buf_;
  uint64_t position_ = 0;
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
  return DataLoader(std::make_unique<ShardSource>(std::move(paths), options), options);
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
