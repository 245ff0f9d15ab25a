#include "runtime/checkpoint/model_source.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "runtime/checkpoint/checkpoint_manifest.h"
#include "runtime/checkpoint/hf_checkpoint.h"
#include "runtime/checkpoint/train_checkpoint.h"

namespace mart {

namespace fs = std::filesystem;

namespace {

bool path_exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

nlohmann::json read_json_file(const fs::path& path) {
  std::ifstream in(path);
  MART_CHECK(in.good(), "cannot read '", path.string(), "'");
  std::stringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    MART_FAIL("'", path.string(), "' is not valid JSON (", e.what(), ")");
  }
}

// The tokenizer files a Hugging Face folder may hold, in the order load_tokenizer prefers them.
std::string tokenizer_in_folder(const fs::path& dir) {
  for (const char* name : {"tokenizer.model", "tokenizer.json", "encoder.json"}) {
    if (path_exists(dir / name)) return dir.string();
  }
  return "";
}

ModelSource from_mart_checkpoint(const std::string& dir, ModelSourceKind kind) {
  const SavedTrainerState saved = verify_checkpoint(dir);
  ModelSource src;
  src.kind = kind;
  src.config = saved.config;
  const fs::path model_dir = checkpoint_model_dir(dir);
  src.weights_path = (model_dir / "model.safetensors").string();
  // The copy inside model/ (format 3), so a moved original does not matter; format 2 checkpoints
  // and byte-tokenizer runs have none and name the job's tokenizer.
  src.tokenizer_path = tokenizer_in_folder(model_dir);
  if (src.tokenizer_path.empty()) src.tokenizer_path = saved.config.data.tokenizer;
  src.description = "checkpoint " + dir + " (step " + std::to_string(saved.state.step) + ")";
  return src;
}

ModelSource from_hf_folder(const fs::path& dir) {
  const fs::path config = dir / "config.json";
  ModelSource src;
  src.kind = ModelSourceKind::HuggingFaceFolder;
  src.config.model = model_config_from_hf(read_json_file(config), config.string());
  // A folder has no training config: evaluate and generate at the model's full context.
  src.config.train.seq_len = src.config.model.max_seq_len;
  src.weights_path = (dir / "model.safetensors").string();
  MART_CHECK(path_exists(src.weights_path), "model folder '", dir.string(),
             "' has a config.json but no model.safetensors");
  src.tokenizer_path = tokenizer_in_folder(dir);
  src.description = "Hugging Face folder " + dir.string();
  return src;
}

}  // namespace

ModelSource resolve_model_source(const std::string& path) {
  const fs::path p(path);
  MART_CHECK(path_exists(p), "model '", path, "' does not exist");
  if (path_exists(p / "checkpoints")) {
    return from_mart_checkpoint(latest_checkpoint(path), ModelSourceKind::RunDirectory);
  }
  if (path_exists(p / kManifestName)) {
    return from_mart_checkpoint(path, ModelSourceKind::MartCheckpoint);
  }
  // step_N/model: the checkpoint it belongs to, verified, with its saved job config.
  fs::path q = p.lexically_normal();
  if (!q.has_filename()) q = q.parent_path();
  if (q.filename() == kCheckpointModelDir && path_exists(q.parent_path() / kManifestName)) {
    return from_mart_checkpoint(q.parent_path().string(), ModelSourceKind::MartCheckpoint);
  }
  if (path_exists(p / "config.json")) return from_hf_folder(p);
  MART_FAIL("model '", path,
            "' is not a run directory (no checkpoints/), a checkpoint (no manifest.json) or a "
            "Hugging Face model folder (no config.json)");
}

}  // namespace mart
