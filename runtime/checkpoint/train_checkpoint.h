// Training checkpoints: everything needed to continue a run bitwise-identically.
//   RUN/checkpoints/step_00000120/
//     model.safetensors, config.json   Hugging Face weights (runtime/checkpoint/hf_checkpoint.h)
//     optimizer.safetensors             AdamW m and v per tensor ("<name>.exp_avg", ".exp_avg_sq")
//     trainer_state.json                step, job config, data-loader state, file sizes + CRC32C
//   RUN/checkpoints/latest              name of the newest complete checkpoint
// A checkpoint is written into a temporary directory and renamed into place only when complete,
// then `latest` is replaced atomically; older checkpoints are removed only after that, so a crash
// at any point leaves the previous checkpoint intact. Loading verifies sizes and checksums before
// touching any state.
#pragma once
#include <cstdint>
#include <string>

#include "config/job_config.h"
#include "runtime/data/data_loader.h"
#include "runtime/model/model_spec.h"
#include "runtime/model/model_states.h"

namespace mart {

struct TrainState {
  int step = 0;  // optimizer steps completed
  LoaderState loader;
  uint64_t tokens_seen = 0;
  double best_val_loss = 0;  // 0: none yet
};

// Writes a checkpoint for `st` into RUN/checkpoints and updates `latest`. Keeps the newest `keep`.
std::string save_checkpoint(const std::string& run_dir, const JobConfig& cfg, const ModelSpec& spec,
                            ModelStates& states, const TrainState& st, int keep = 2);

// The directory of the newest complete checkpoint of RUN; throws if there is none.
std::string latest_checkpoint(const std::string& run_dir);
// Reads the job config stored in a checkpoint (verified).
JobConfig checkpoint_config(const std::string& ckpt_dir);
// Verifies the checkpoint, checks it matches `spec`, and loads weights + optimizer state.
TrainState load_checkpoint(const std::string& ckpt_dir, const ModelSpec& spec, ModelStates& states);

}  // namespace mart
