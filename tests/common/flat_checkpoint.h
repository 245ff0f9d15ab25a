// Turns a format 3 checkpoint (Hugging Face files in step_N/model/) into the format 2 checkpoint an
// older MART wrote (config.json and model.safetensors flat beside optimizer.safetensors, a format 2
// manifest), so tests can check that such checkpoints still verify, load and resume.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/checkpoint/checkpoint_manifest.h"
#include "tests/common/test_util.h"

namespace mart::testutil {

inline void make_flat_checkpoint(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string model = dir + "/" + kCheckpointModelDir;
  for (const char* f : {"config.json", "model.safetensors"})
    fs::rename(model + "/" + f, dir + "/" + f);
  fs::remove_all(model);  // generation_config.json and tokenizer files did not exist in format 2
  const std::string state = dir + "/trainer_state.json";
  nlohmann::json j = nlohmann::json::parse(read_all(state));
  j["format_version"] = kFlatCheckpointFormatVersion;
  write_all(state, j.dump(2) + "\n");
  write_flat_checkpoint_manifest(dir);
}

}  // namespace mart::testutil
