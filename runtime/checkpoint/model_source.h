// Where a model to run comes from: `mart generate` and `mart eval` take a run directory, a MART
// checkpoint directory or a Hugging Face model folder, and this resolves any of them to the model's
// configuration, its weights file and its tokenizer, one way for every command.
#pragma once
#include <string>

#include "config/job_config.h"

namespace mart {

enum class ModelSourceKind {
  RunDirectory,       // RUN/: its newest intact checkpoint
  MartCheckpoint,     // RUN/checkpoints/step_N/ or its model/ folder
  HuggingFaceFolder,  // config.json + model.safetensors (+ tokenizer files)
};

struct ModelSource {
  ModelSourceKind kind = ModelSourceKind::HuggingFaceFolder;
  // The model section comes from the checkpoint; the rest is the saved job config (MART) or the
  // defaults (Hugging Face folder), so a Session can be built from it as it is.
  JobConfig config;
  std::string weights_path;    // the model.safetensors to load with load_hf_weights
  std::string tokenizer_path;  // for load_tokenizer; "" = the byte tokenizer
  std::string description;     // "checkpoint runs/x/checkpoints/step_00000100", for logs
};

// Resolves PATH (see ModelSourceKind). The tokenizer is the copy in the checkpoint's model/ folder
// when it has one (format 3), else the saved data.tokenizer. A MART checkpoint is verified
// (manifest and checksums) and a run directory walks back to its newest intact checkpoint. Throws
// mart::Error naming PATH and what was expected there when it is none of these.
ModelSource resolve_model_source(const std::string& path);

}  // namespace mart
