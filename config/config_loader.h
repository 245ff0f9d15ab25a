// Loading a job config: YAML file (or text) + `--set section.key=value` overrides -> a validated
// JobConfig. This header is the configuration layer's front door; it also brings in validation,
// presets, JSON/YAML serialization and the per-block activation layout.
//
// Schema: top-level keys `name`, `backend`, `model`, `data`, `train`, `memory`, `activations`;
// each section's keys are exactly the field names of its struct in job_config.h. Besides:
//   model: gpt2-124m                          a built-in preset (model_presets.h), or
//   model: {preset: llama-7b, n_layer: 4}     a preset with some keys replaced, or a plain mapping
//   memory.device_capacity, memory.chunk_size integer bytes, a unit string ("64MiB", "1.5GB") or
//                                             auto (= 0)
//   activations.modes                         a list ([swap, keep]) or "swap,keep"
//   family: gpt2 | llama; booleans: true/false (yes/no, on/off); an empty string value clears it
// Unknown keys, duplicate keys and wrongly typed values are errors naming the full key path, the
// file and line, and the fix ("did you mean 'lr'?").
#pragma once
#include <set>
#include <string>
#include <vector>

#include "config/block_modes.h"
#include "config/config_serialize.h"
#include "config/config_validate.h"
#include "config/job_config.h"
#include "config/model_presets.h"

namespace mart {

// Reads `yaml_path` (empty: start from the built-in defaults, JobConfig{}), applies `overrides`
// in order, then validate()s. Throws mart::Error on any problem.
JobConfig load_job_config(const std::string& yaml_path,
                          const std::vector<std::string>& overrides = {});

// As load_job_config, from YAML text; `origin` names it in error messages ("config.yaml").
JobConfig job_config_from_yaml_string(const std::string& text, const std::string& origin,
                                      const std::vector<std::string>& overrides = {});

// A job config before validation, with the model keys its YAML and `--set` overrides stated:
// `mart train --init-from DIR` takes every unstated model key from DIR's config.json and refuses a
// stated one that differs. A preset (model: NAME, model.preset) states every model key.
struct LoadedJobConfig {
  JobConfig config;
  std::set<std::string> stated_model_keys;  // field names: "n_layer", "rope_theta", ...
  std::string origin;  // for messages: "configs/jobs/x.yaml with --set overrides"
};

// As load_job_config without the final validate(): the caller completes the model, then
// validate(loaded.config, loaded.origin). Family defaults are applied (GPT-2 ties its embeddings
// unless tied_embeddings is stated; an explicit false is refused by validate()).
LoadedJobConfig load_job_config_unvalidated(const std::string& yaml_path,
                                            const std::vector<std::string>& overrides = {});

// Applies `--set` overrides without validating. Each is "key=value" with key one of: a top-level
// key (name, backend, or model for a preset name), "section.key", or "model.preset"; the value is
// parsed as YAML (3e-4, true, [swap, keep], "text") and checked exactly like a file value. Later
// overrides win; model=/model.preset= replaces the whole model, so give it before model.* keys.
void apply_overrides(JobConfig& c, const std::vector<std::string>& overrides);

}  // namespace mart
