// Semantic checks on a JobConfig: settings that parse but cannot run (heads that do not divide
// d_model, seq_len beyond the model's context, more special blocks than blocks, ...). Each problem
// names the field(s), the values, why it is impossible and what to change.
#pragma once
#include <string>
#include <vector>

#include "config/job_config.h"

namespace mart {

// Every problem found, one message each, in schema order; empty when the config is valid.
std::vector<std::string> config_problems(const JobConfig& c);

// Throws mart::Error listing every problem (one per line) when there are any.
void validate(const JobConfig& c);
// The same, naming where the config came from ("configs/jobs/x.yaml", "built-in defaults").
void validate(const JobConfig& c, const std::string& origin);

}  // namespace mart
