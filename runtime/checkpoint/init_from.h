// `mart train --init-from PATH`: the model comes from the checkpoint, not from the job config.
// PATH is a Hugging Face folder (config.json + model.safetensors), a MART run directory or
// checkpoint, or a model.safetensors file (its folder's config.json is used when there is one).
// The checkpoint's architecture fills every model key the job config did not state; a stated key
// that differs is refused, naming the key, both values and both files.
#pragma once
#include <set>
#include <string>

#include "config/job_config.h"

namespace mart {

struct InitSource {
  bool has_config = false;   // false: a bare safetensors file; the job config gives the model
  ModelConfig model;         // the checkpoint's architecture (when has_config)
  std::string config_path;   // its config.json (or trainer_state.json), for messages
  std::string weights_path;  // the model.safetensors to load
};

// Resolves PATH (see above); throws mart::Error naming PATH when it holds no weights.
InitSource resolve_init_source(const std::string& path);

// Completes `job` from the checkpoint's `ckpt` model: unstated keys take the checkpoint's value,
// stated ones must equal it. `job_origin` and `ckpt_origin` name the two files in the refusal.
// init_std, which does not shape a loaded model, is taken only when unstated and never refused.
void merge_init_model(ModelConfig& job, const std::set<std::string>& stated,
                      const ModelConfig& ckpt, const std::string& job_origin,
                      const std::string& ckpt_origin);

}  // namespace mart
