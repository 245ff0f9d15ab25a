#include "runtime/data/job_data.h"

#include "common/error.h"
#include "runtime/data/tokenizer.h"

namespace mart {

namespace {

// A tokenizer whose ids reach past the embedding table would fail mid-run (or, for ids only rare
// text produces, never be caught by a shard check): refuse it at start, naming both sizes.
void check_tokenizer_fits(const JobConfig& cfg) {
  if (cfg.data.tokenizer.empty()) return;
  const auto tok = load_tokenizer(cfg.data.tokenizer);
  MART_CHECK(tok->vocab_size() <= static_cast<uint64_t>(cfg.model.vocab_size), "data.tokenizer '",
             cfg.data.tokenizer, "' (", tok->describe(), ") has ", tok->vocab_size(),
             " ids, more than model.vocab_size ", cfg.model.vocab_size,
             "; set model.vocab_size to at least ", tok->vocab_size());
}

}  // namespace

JobData make_job_data(const JobConfig& cfg) {
  check_tokenizer_fits(cfg);
  LoaderOptions lo;
  lo.batch_size = cfg.train.micro_batch;
  lo.seq_len = cfg.train.seq_len;
  lo.vocab_size = static_cast<uint32_t>(cfg.model.vocab_size);
  // Validation is a fixed set: always sequential from its start, whatever data.order says.
  LoaderOptions train_lo = lo;
  train_lo.order = parse_data_order(cfg.data.order, "data.order");
  train_lo.seed = cfg.train.seed;
  JobData d;
  if (cfg.data.source == "synthetic") {
    MarkovSpec ms;
    ms.vocab = cfg.data.synthetic_vocab;
    ms.order = cfg.data.synthetic_order;
    ms.branching = cfg.data.synthetic_branching;
    ms.seed = cfg.data.synthetic_seed;
    auto markov = std::make_shared<const MarkovSource>(ms);
    d.train =
        std::make_unique<DataLoader>(DataLoader::from_markov(markov, cfg.train.seed, train_lo));
    d.val = std::make_unique<DataLoader>(
        DataLoader::from_markov(markov, cfg.train.seed ^ kValidationSeedXor, lo));
    d.markov = std::move(markov);
  } else {
    d.train =
        std::make_unique<DataLoader>(DataLoader::from_shards(cfg.data.train_pattern, train_lo));
    if (!cfg.data.val_pattern.empty())
      d.val = std::make_unique<DataLoader>(DataLoader::from_shards(cfg.data.val_pattern, lo));
  }
  return d;
}

}  // namespace mart
