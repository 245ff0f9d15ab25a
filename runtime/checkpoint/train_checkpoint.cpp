#include "runtime/checkpoint/train_checkpoint.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <type_traits>

#include "common/error.h"
#include "config/config_loader.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "runtime/checkpoint/checkpoint_dir.h"
#include "runtime/checkpoint/checkpoint_fs.h"
#include "runtime/checkpoint/checkpoint_manifest.h"
#include "runtime/checkpoint/checkpoint_tokenizer.h"
#include "runtime/checkpoint/hf_checkpoint.h"
#include "runtime/checkpoint/weight_checks.h"

namespace mart {
namespace {

void write_text(const std::string& path, const std::string& text) {
  write_file_atomic(path, text.data(), text.size());
}

// A value for a message: floats in their shortest exact form, so two that differ never print alike.
template <class T>
std::string shown(const T& v) {
  if constexpr (std::is_floating_point_v<T>) {
    char buf[64];
    const bool whole = v == std::trunc(v) && std::fabs(v) < 1e15;  // 500000, not 5e+05
    const auto r = whole ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed)
                         : std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
  } else {
    return str(v);
  }
}

// The effective architecture config.json describes: the keys a family's file does not carry
// (GPT-2: n_kv_head, rope_theta) read back as their defaults, so they are compared only where
// the family has them.
void check_hf_config_matches(const std::string& dir, const ModelConfig& saved) {
  const std::string path = dir + "/config.json";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(ckpt_fs::read_small_file(path, "checkpoint file"));
  } catch (const nlohmann::json::exception&) {
    MART_FAIL("corrupt checkpoint: ", path, " is not valid JSON");
  }
  const ModelConfig h = model_config_from_hf(j, path);
  const ModelFamilyTraits& fam = family_traits(saved.family);
  auto same = [&](const char* field, auto file_value, auto state_value) {
    MART_CHECK(file_value == state_value, "corrupt checkpoint: ", path, " says model.", field, " ",
               shown(file_value), ", trainer_state.json's config ", shown(state_value),
               " (one of them was edited)");
  };
  same("family", std::string(family_name(h.family)), std::string(family_name(saved.family)));
  same("n_layer", h.n_layer, saved.n_layer);
  same("d_model", h.d_model, saved.d_model);
  same("n_head", h.n_head, saved.n_head);
  if (fam.hf.n_kv_head) same("n_kv_head", h.n_kv_head, saved.n_kv_head);
  same("d_ff", h.d_ff, saved.d_ff);
  same("vocab_size", h.vocab_size, saved.vocab_size);
  same("max_seq_len", h.max_seq_len, saved.max_seq_len);
  same("norm_eps", h.norm_eps, saved.norm_eps);
  if (fam.hf.rope_theta) same("rope_theta", h.rope_theta, saved.rope_theta);
  same("tied_embeddings", h.tied_embeddings, fam.always_tied || saved.tied_embeddings);
}

// Every architectural field must agree: shapes alone can match across different models
// (e.g. another head count with the same widths).
void check_model_matches(const std::string& dir, const ModelConfig& a, const ModelSpec& spec) {
  const ModelConfig& b = spec.cfg;
  auto differ = [&](const char* field, auto x, auto y) {
    MART_CHECK(x == y, "checkpoint ", dir, " was made for a model with model.", field, " = ",
               shown(x), ", but the configured model has ", shown(y), " (model config mismatch)");
  };
  differ("family", std::string(family_name(a.family)), std::string(family_name(b.family)));
  differ("n_layer", a.n_layer, b.n_layer);
  differ("d_model", a.d_model, b.d_model);
  differ("n_head", a.n_head, b.n_head);
  differ("n_kv_head", a.n_kv_head, b.n_kv_head);
  differ("d_ff", a.d_ff, b.d_ff);
  differ("vocab_size", a.vocab_size, b.vocab_size);
  differ("max_seq_len", a.max_seq_len, b.max_seq_len);
  differ("tied_embeddings", a.tied_embeddings, b.tied_embeddings);
  differ("norm_eps", a.norm_eps, b.norm_eps);
  differ("rope_theta", a.rope_theta, b.rope_theta);
}

SavedTrainerState read_verified_state(const std::string& dir, bool json_only) {
  const int version = verify_checkpoint_manifest(dir, json_only);
  const std::string path = dir + "/trainer_state.json";
  SavedTrainerState s =
      parse_trainer_state(ckpt_fs::read_small_file(path, "checkpoint file"), path);
  const bool flat = version == kFlatCheckpointFormatVersion;
  check_hf_config_matches(flat ? dir : dir + "/" + kCheckpointModelDir, s.config.model);
  return s;
}

// Opens and checks the optimizer state of every parameter (presence, shape, dtype, values).
std::unique_ptr<SafetensorsFile> open_adam_state(const std::string& dir, const ModelSpec& spec) {
  const std::string path = dir + "/optimizer.safetensors";
  ckpt_fs::require_regular_file(path, "checkpoint file");
  auto opt = std::make_unique<SafetensorsFile>(path);
  for (const ParamInfo& p : spec.params)
    for (const char* suffix : {".exp_avg", ".exp_avg_sq"}) {
      const std::string n = p.name + suffix;
      MART_CHECK(
          opt->contains(n) && opt->tensor(n).shape == p.shape && opt->tensor(n).dtype == DType::F32,
          "checkpoint ", dir, ": optimizer state '", n,
          "' is missing or has the wrong shape/dtype");
      check_adam_values(opt->tensor(n), path, std::string(suffix) == ".exp_avg_sq");
    }
  return opt;
}

void write_adam_state(const std::string& path, const ModelSpec& spec, ModelStates& states,
                      const std::function<void(uint64_t bytes)>& on_bytes) {
  std::vector<std::vector<float>> mv(2 * spec.params.size());
  SafetensorsWriter w;
  for (size_t i = 0; i < spec.params.size(); ++i) {
    const ParamInfo& p = spec.params[i];
    mv[2 * i].resize(p.numel);
    mv[2 * i + 1].resize(p.numel);
    states.read_adam(static_cast<int>(i), mv[2 * i].data(), mv[2 * i + 1].data());
    w.add(p.name + ".exp_avg", DType::F32, p.shape, mv[2 * i].data());
    w.add(p.name + ".exp_avg_sq", DType::F32, p.shape, mv[2 * i + 1].data());
  }
  w.write(path, on_bytes);
}

// Fills the scratch directory TMP with a complete, fsync'ed checkpoint.
void write_checkpoint_files(const std::string& tmp, const JobConfig& cfg, const ModelSpec& spec,
                            ModelStates& states, const TrainState& st,
                            const CheckpointProgress& progress) {
  // Weights (fp32) then AdamW m and v (fp32 each): 4 + 8 bytes per parameter.
  const uint64_t weight_bytes = spec.n_params * uint64_t{4}, total = 3 * weight_bytes;
  const auto report = [&](uint64_t before) {
    return [&progress, before, total](uint64_t bytes) {
      if (progress) progress(std::min(total, before + bytes), total);
    };
  };
  const std::string state_text = trainer_state_text(cfg, st);
  // What is written must read back: refuse to save a state the loader would reject.
  parse_trainer_state(state_text, "the trainer state being saved");
  // model/ holds exactly what transformers' from_pretrained reads; the training state stays beside
  // it, so tools that load every *.safetensors of the model folder never see the optimizer.
  const std::string model_dir = tmp + "/" + kCheckpointModelDir;
  ckpt_fs::create_directories(model_dir);
  const HfTokenIds ids = copy_tokenizer_files(cfg.data.tokenizer, model_dir);
  save_hf_weights(spec, states, model_dir, ids, report(0));
  ckpt_fs::fsync_dir(model_dir);
  write_adam_state(tmp + "/optimizer.safetensors", spec, states, report(weight_bytes));
  write_text(tmp + "/trainer_state.json", state_text);
  write_checkpoint_manifest(tmp);  // last: a directory without it is never a checkpoint
  ckpt_fs::fsync_dir(tmp);
}

}  // namespace

std::string save_checkpoint(const std::string& run_dir, const JobConfig& cfg, const ModelSpec& spec,
                            ModelStates& states, const TrainState& st, int keep,
                            const CheckpointProgress& progress) {
  const std::string root = run_dir + "/checkpoints";
  ckpt_fs::create_directories(root);
  ckpt_dir::remove_stale_temporaries(run_dir, /*own_pid_is_stale=*/false);
  const std::string name = ckpt_dir::step_name(st.step);
  const std::string tmp = root + "/" + ckpt_dir::scratch_name(".tmp", name);
  const std::string final_dir = root + "/" + name;
  try {
    ckpt_fs::create_directories(tmp);
    write_checkpoint_files(tmp, cfg, spec, states, st, progress);
    if (ckpt_fs::exists(final_dir)) {  // the same step saved again: move the old one aside
      const std::string old = root + "/" + ckpt_dir::scratch_name(".deleting", name);
      ckpt_fs::rename(final_dir, old);
      ckpt_fs::rename(tmp, final_dir);
      ckpt_fs::fsync_dir(root);
      ckpt_fs::remove_all_noexcept(old);
    } else {
      ckpt_fs::rename(tmp, final_dir);
      ckpt_fs::fsync_dir(root);
    }
  } catch (...) {
    ckpt_fs::remove_all_noexcept(tmp);
    throw;
  }
  write_text(root + "/latest", name + "\n");  // atomic, fsync'ed file and directory
  ckpt_dir::prune_checkpoints(root, st.step, keep);
  return final_dir;
}

SavedTrainerState verify_checkpoint(const std::string& dir) {
  SavedTrainerState s = read_verified_state(dir, /*json_only=*/false);
  const std::string base = dir.substr(dir.find_last_of('/') + 1);
  const std::optional<int> named = ckpt_dir::parse_step_name(base);
  MART_CHECK(!named || *named == s.state.step, "corrupt checkpoint: ", dir, " is named for step ",
             named.value_or(0), " but its trainer_state.json holds step ", s.state.step);
  return s;
}

JobConfig checkpoint_config(const std::string& dir) {
  return read_verified_state(dir, /*json_only=*/true).config;
}

TrainState load_checkpoint(const std::string& dir, const ModelSpec& spec, ModelStates& states) {
  return load_verified_checkpoint(dir, verify_checkpoint(dir), spec, states);
}

TrainState load_verified_checkpoint(const std::string& dir, const SavedTrainerState& saved,
                                    const ModelSpec& spec, ModelStates& states) {
  check_model_matches(dir, saved.config.model, spec);
  ModelSpec saved_spec = build_model_spec(saved.config.model);
  MART_CHECK(saved_spec.params.size() == spec.params.size() && saved_spec.n_params == spec.n_params,
             "checkpoint ", dir, " holds a model with ", saved_spec.n_params, " parameters in ",
             saved_spec.params.size(), " tensors, but the configured model has ", spec.n_params,
             " in ", spec.params.size(), " (model config mismatch)");
  // Both files are checked whole before the first value is written (load_hf_weights checks every
  // weight first), so a bad file leaves the model as it was.
  const std::unique_ptr<SafetensorsFile> opt = open_adam_state(dir, spec);
  load_hf_weights(spec, states, checkpoint_model_dir(dir) + "/model.safetensors");
  for (size_t i = 0; i < spec.params.size(); ++i) {
    const ParamInfo& p = spec.params[i];
    states.write_adam(static_cast<int>(i),
                      reinterpret_cast<const float*>(opt->tensor(p.name + ".exp_avg").data),
                      reinterpret_cast<const float*>(opt->tensor(p.name + ".exp_avg_sq").data));
  }
  return saved.state;
}

}  // namespace mart
