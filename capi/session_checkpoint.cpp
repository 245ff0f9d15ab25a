// mart_session_save_checkpoint / load_checkpoint / load_hf / save_hf: `mart train`'s checkpoint
// format (runtime/checkpoint/train_checkpoint.h) with the session's step count and training data
// position, so `mart train --resume` continues a run the C API wrote, and the other way round.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "capi/session_handle.h"
#include "runtime/checkpoint/hf_checkpoint.h"
#include "runtime/checkpoint/train_checkpoint.h"
#include "runtime/run_dir.h"

namespace fs = std::filesystem;
using mart::capi::fail;
using mart::capi::require_arg;
using mart::capi::with_session;

namespace {

// A checkpoint directory, or a run directory's latest checkpoint.
std::string checkpoint_dir(const std::string& path) {
  if (!fs::exists(path)) fail(MART_ERR_IO, "'" + path + "' does not exist");
  if (fs::exists(fs::path(path) / "trainer_state.json")) return path;
  if (fs::exists(fs::path(path) / "checkpoints" / "latest")) return mart::latest_checkpoint(path);
  fail(MART_ERR_IO, "'" + path +
                        "' is neither a checkpoint directory (no trainer_state.json) nor a run "
                        "directory (no checkpoints/latest)");
}

// The training data position a (verified) checkpoint holds, restored into a fresh stream of this
// session: throws before any weight changes when it does not fit (another seq_len, shard set).
std::unique_ptr<mart::DataLoader> restored_stream(mart_session& h, const std::string& dir) {
  mart::LoaderState st;
  try {
    std::ifstream f(dir + "/trainer_state.json");
    st = nlohmann::json::parse(f).at("loader").get<mart::LoaderState>();
  } catch (const nlohmann::json::exception& e) {
    fail(MART_ERR_IO,
         "checkpoint " + dir + ": trainer_state.json has no valid \"loader\" (" + e.what() + ")");
  }
  mart::DataLoader& current = mart::capi::train_loader(h);
  // A second stream over the same source: a copy of the current one, moved to the saved position.
  const mart::JobConfig& cfg = h.session->config();
  std::unique_ptr<mart::DataLoader> d;
  if (h.markov)
    d = std::make_unique<mart::DataLoader>(
        mart::DataLoader::from_markov(h.markov, cfg.train.seed, current.options()));
  else
    d = std::make_unique<mart::DataLoader>(
        mart::DataLoader::from_shard_paths(current.shard_paths(), current.options()));
  try {
    d->restore(st);
  } catch (const mart::Error& e) {
    fail(MART_ERR_IO,
         "checkpoint " + dir + " does not fit this session's training data: " + e.what());
  }
  return d;
}

// A weights file, a folder holding model.safetensors, or a checkpoint (step_N/model/).
std::string hf_file(const std::string& path) {
  if (!fs::exists(path)) fail(MART_ERR_IO, "'" + path + "' does not exist");
  if (!fs::is_directory(path)) return path;
  const fs::path in_model = fs::path(path) / "model" / "model.safetensors";
  if (!fs::exists(fs::path(path) / "model.safetensors") && fs::exists(in_model))
    return in_model.string();
  return path + "/model.safetensors";
}

}  // namespace

extern "C" {

mart_status mart_session_save_checkpoint(mart_session* session, const char* run_dir,
                                         char** out_path) {
  return with_session("mart_session_save_checkpoint", MART_ERR_IO, session, [&](mart_session& h) {
    require_arg(run_dir, "run_dir");
    if (h.steps_done > INT32_MAX) fail(MART_ERR_INVALID_ARGUMENT, "steps_done is too large");
    mart::TrainState st;
    st.step = static_cast<int>(h.steps_done);
    st.loader = mart::capi::train_loader(h).state();
    st.tokens_seen = h.tokens_seen;
    st.best_val_loss = h.best_val_loss;
    mart::Session& s = *h.session;
    // A session may step past its config's train.steps; the checkpoint then records the steps
    // taken as the run's length, since a checkpoint's step may not exceed train.steps.
    mart::JobConfig cfg = s.config();
    cfg.train.steps = std::max(cfg.train.steps, st.step);
    // The run directory's lock for the length of the save: a `mart train` (or another save)
    // writing there would otherwise prune or replace this checkpoint's neighbours.
    const mart::RunDirLock lock(run_dir);
    const std::string dir = mart::save_checkpoint(run_dir, cfg, s.spec(), s.states(), st);
    if (out_path) *out_path = mart::capi::dup_string(dir);
  });
}

mart_status mart_session_load_checkpoint(mart_session* session, const char* path) {
  return with_session("mart_session_load_checkpoint", MART_ERR_IO, session, [&](mart_session& h) {
    require_arg(path, "path");
    const std::string dir = checkpoint_dir(path);
    mart::checkpoint_config(dir);  // verifies sizes and checksums of every file first
    std::unique_ptr<mart::DataLoader> stream = restored_stream(h, dir);
    // Checks the model config matches before it writes a weight.
    mart::Session& s = *h.session;
    const mart::TrainState st = mart::load_checkpoint(dir, s.spec(), s.states());
    h.train_data = std::move(stream);
    h.steps_done = st.step;
    h.tokens_seen = st.tokens_seen;
    h.best_val_loss = st.best_val_loss;
  });
}

mart_status mart_session_load_hf(mart_session* session, const char* path) {
  return with_session("mart_session_load_hf", MART_ERR_IO, session, [&](mart_session& h) {
    require_arg(path, "path");
    mart::load_hf_weights(h.session->spec(), h.session->states(), hf_file(path));
  });
}

mart_status mart_session_save_hf(mart_session* session, const char* dir) {
  return with_session("mart_session_save_hf", MART_ERR_IO, session, [&](mart_session& h) {
    require_arg(dir, "dir");
    mart::save_hf_weights(h.session->spec(), h.session->states(), dir);
  });
}

}  // extern "C"
