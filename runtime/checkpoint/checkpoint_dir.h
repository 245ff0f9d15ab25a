// The RUN/checkpoints directory: names of checkpoints and temporaries, and pruning. Internal to
// runtime/checkpoint (the public entry points are in train_checkpoint.h).
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace mart::ckpt_dir {

// "step_00000120".
std::string step_name(int step);
// The step of a checkpoint directory name "step_<digits>", or nullopt for any other name.
std::optional<int> parse_step_name(const std::string& name);
// A scratch name for a save or a deletion in progress: "<kind>-step_N-HOST-PID" with kind ".tmp"
// or ".deleting"; remove_stale_checkpoint_temporaries recognises them.
std::string scratch_name(const std::string& kind, const std::string& step_dir_name);

// remove_stale_checkpoint_temporaries (train_checkpoint.h); `own_pid_is_stale` false when this
// process may be saving into RUN right now (save_checkpoint: another thread's C API session).
std::vector<std::string> remove_stale_temporaries(const std::string& run_dir,
                                                  bool own_pid_is_stale);

// Deletes checkpoints of ROOT (= RUN/checkpoints) with a step below `newest`, keeping the
// newest keep-1 of them (so `keep` counting the one at `newest`). Each is renamed to a .deleting-
// name first; failures are reported on stderr, never thrown.
void prune_checkpoints(const std::string& root, int newest, int keep);

}  // namespace mart::ckpt_dir
