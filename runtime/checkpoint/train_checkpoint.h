// Training checkpoints: everything needed to continue a run bitwise-identically.
//   RUN/checkpoints/step_00000120/
//     model/                            exactly what transformers' from_pretrained reads:
//       model.safetensors, config.json,   Hugging Face weights and config (hf_checkpoint.h),
//       generation_config.json            bos/eos from the tokenizer
//       tokenizer.model | tokenizer.json  data.tokenizer's files, when set (checkpoint_tokenizer.h)
//     optimizer.safetensors             AdamW m and v per tensor ("<name>.exp_avg", ".exp_avg_sq")
//     trainer_state.json                step, job config, data-loader state (trainer_state.cpp)
//     manifest.json                     sizes + CRC32C of every file above by relative path,
//                                       itself checksummed (checkpoint_manifest.h: format 3;
//                                       format 2, the same files flat without model/, still loads)
//   RUN/checkpoints/latest              name of the newest complete checkpoint (a hint: the loader
//                                       picks the newest intact step_* directory)
// Saving: every file is written into RUN/checkpoints/.tmp-step_N-HOST-PID (model/ fsync'ed too),
// fsync'ed, the directory renamed into place and the parent fsync'ed, then `latest` replaced
// atomically; only then are older checkpoints pruned, each first renamed to
// .deleting-step_M-HOST-PID so a half-deleted one is never mistaken for a checkpoint. A crash at
// any point leaves the previous checkpoint intact. Loading: the manifest, every file's size and
// CRC32C, trainer_state.json's values, config.json against the saved job config, and then every
// weight's value are checked before state changes.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

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

// Checkpoints `mart train` keeps in RUN/checkpoints.
constexpr int kDefaultKeepCheckpoints = 2;

// Writes a checkpoint for `st` into RUN/checkpoints and updates `latest`. Keeps the newest `keep`
// checkpoints at or below st.step (<= 0: keeps all); higher-numbered ones are never touched.
// Throws mart::Error (naming the path) when the checkpoint cannot be written; a failure to prune
// an old checkpoint is only reported on stderr.
// progress (optional, for a [checkpoint] progress line): (bytes of weights and optimizer state
// written so far, their total: 12 bytes per parameter, fp32 weights + AdamW m and v).
using CheckpointProgress = std::function<void(uint64_t done, uint64_t total)>;
std::string save_checkpoint(const std::string& run_dir, const JobConfig& cfg, const ModelSpec& spec,
                            ModelStates& states, const TrainState& st,
                            int keep = kDefaultKeepCheckpoints,
                            const CheckpointProgress& progress = {});

// Removes RUN/checkpoints/.tmp-* and .deleting-* directories (and latest.tmp.PID files) left by
// a killed save or prune: only those made on this host by a process that is no longer alive. A
// name with this process's own PID counts as stale, left by an earlier process with the same PID
// (as in containers), so call it before this process saves. Returns their names. save_checkpoint
// cleans up too, sparing its own PID's.
std::vector<std::string> remove_stale_checkpoint_temporaries(const std::string& run_dir);

struct SavedTrainerState {
  TrainState state;
  JobConfig config;
};
struct CheckpointChoice {
  std::string dir;                   // the chosen checkpoint directory
  std::vector<std::string> skipped;  // newer ones that failed, "step_00000012: <why>"
  SavedTrainerState saved;           // what verify_checkpoint read from the chosen one
};
// The newest checkpoint of RUN that verifies completely (verify_checkpoint); walks back past
// damaged ones. Throws mart::Error listing every checkpoint and why it failed when none is intact,
// or saying there is no checkpoint to resume.
CheckpointChoice newest_intact_checkpoint(const std::string& run_dir);
// newest_intact_checkpoint(run_dir).dir
std::string latest_checkpoint(const std::string& run_dir);

// Parses and range-checks trainer_state.json text (no file checks): format_version, step in
// [0, train.steps], tokens_seen, loader position, best_val_loss finite, and the job config through
// validate(). Throws mart::Error naming `origin` and the key.
SavedTrainerState parse_trainer_state(const std::string& json_text, const std::string& origin);
// The trainer_state.json text parse_trainer_state reads back.
std::string trainer_state_text(const JobConfig& cfg, const TrainState& st);

// Verifies a checkpoint directory without loading weights into a model: manifest and file
// checksums, trainer_state.json, config.json equal to the saved model config, and the directory
// name (step_N) equal to the saved step. Returns the saved state.
SavedTrainerState verify_checkpoint(const std::string& ckpt_dir);

// Reads the job config stored in a checkpoint (the manifest and its JSON files verified).
JobConfig checkpoint_config(const std::string& ckpt_dir);
// Verifies the checkpoint, checks it matches `spec`, checks every weight and optimizer value
// (weight_checks.h), and loads weights + optimizer state.
TrainState load_checkpoint(const std::string& ckpt_dir, const ModelSpec& spec, ModelStates& states);
// load_checkpoint without verifying again: for a checkpoint verify_checkpoint (or
// newest_intact_checkpoint) has just checked and `saved` it returned, while the caller holds the
// run directory's lock so the files cannot have changed. Every file is checksummed once, not twice.
TrainState load_verified_checkpoint(const std::string& ckpt_dir, const SavedTrainerState& saved,
                                    const ModelSpec& spec, ModelStates& states);

}  // namespace mart
