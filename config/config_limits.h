// Hard limits on every size, count and float of a job config, as one table (key, min, max, why)
// that docs/LIMITS.md shows (and docs/RELIABILITY.md cites). They catch values no real job uses --
// n_layer 2^31-1, norm_eps 3e38, eval_batches 2^31-1 -- before anything is allocated or a step
// runs, with a message naming the key, the value and the limit. Rows for products (parameters,
// tokens per micro-batch, logits, lr x weight_decay) are computed in 64-bit with saturation, so no
// overflow can hide a huge value. Semantic rules (heads divide d_model, seq_len <= max_seq_len,
// ...) stay in config_validate.cpp; these are only ranges.
#pragma once
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/job_config.h"

namespace mart {

struct ConfigLimit {
  std::string_view key;  // "model.n_layer", or a product "train.micro_batch x train.seq_len"
  double min, max;
  bool min_open, max_open;  // true: the bound itself is excluded, e.g. beta2 in [0, 1)
  std::string_view why;
  // Product rows: computes the value; they are checked only once every plain row passed, so a
  // bad factor is reported once, as itself. Null for a plain field, read through the schema.
  double (*derived)(const JobConfig&) = nullptr;
};

// The table, in schema order, products last.
std::span<const ConfigLimit> config_limits();

// The table as Markdown (key | allowed | why), as docs/LIMITS.md shows it verbatim (a test
// compares).
std::string config_limits_markdown();

// One message per value outside its limit: "model.n_layer = 2147483647 is above its limit
// (allowed [1, 1024]): <why>". Empty when every value is in range. validate() includes these.
std::vector<std::string> limit_problems(const JobConfig& c);

// Throws mart::Error listing limit_problems and a bad job name (one per line) naming `origin` (a
// file, a checkpoint's config.json). For configs read without validate() (job_config_from_json).
void check_limits(const JobConfig& c, const std::string& origin);

}  // namespace mart
