// The job's data streams, built from its config the one way `mart train` and the C API share (so
// a C/Python loop over mart_session_next_batch sees exactly the trainer's batches): the synthetic
// Markov corpus (training from train.seed, validation from train.seed ^ "valid") or token shards
// (validation only when data.val_pattern is set). Batches are train.micro_batch x train.seq_len.
// Training reads in data.order from train.seed; validation always sequentially from its start.
#pragma once
#include <memory>

#include "config/job_config.h"
#include "runtime/data/data_loader.h"
#include "runtime/data/markov_corpus.h"

namespace mart {

struct JobData {
  std::shared_ptr<const MarkovSource> markov;  // null for shards
  std::unique_ptr<DataLoader> train;
  std::unique_ptr<DataLoader> val;  // null when the job has no validation data
};

// Throws mart::Error naming the pattern when shards cannot be found or read.
JobData make_job_data(const JobConfig& cfg);

// The seed of the validation stream of a synthetic job ("valid" in ASCII, xor'ed in).
constexpr uint64_t kValidationSeedXor = 0x76616c6964ull;

}  // namespace mart
