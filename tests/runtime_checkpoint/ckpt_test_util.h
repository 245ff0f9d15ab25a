// Helpers for the checkpoint tests: a tiny trained-looking model in a Session, saving its
// checkpoints into a scratch run directory, and editing checkpoint files the way a damaged disk or
// a curious user would (JSON edits, tensor value edits, re-sealing the manifest so a test can reach
// the check behind the checksum).
#pragma once
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/config_loader.h"
#include "io/checksum.h"
#include "io/safetensors.h"
#include "runtime/checkpoint/checkpoint_manifest.h"
#include "runtime/checkpoint/train_checkpoint.h"
#include "tests/common/executor_rig.h"
#include "tests/common/test_util.h"

namespace mart::ckpt_test {

namespace fs = std::filesystem;

using testutil::error_of;
using testutil::ExecutorRig;
using testutil::has;
using testutil::read_all;
using testutil::TempDir;
using testutil::write_all;

inline ModelConfig tiny_model(ModelFamily f = ModelFamily::Llama) {
  ModelConfig m;
  m.family = f;
  m.n_layer = 2;
  m.d_model = 32;
  m.n_head = 4;
  m.n_kv_head = f == ModelFamily::GPT2 ? 4 : 2;
  m.d_ff = f == ModelFamily::GPT2 ? 128 : 64;
  m.vocab_size = 32;
  m.max_seq_len = 32;
  m.tied_embeddings = f == ModelFamily::GPT2;
  return m;
}

// A run directory and a model whose checkpoints go there; steps are saved with plausible state.
struct RunFixture {
  TempDir tmp;
  std::string run;
  JobConfig cfg;
  std::unique_ptr<ExecutorRig> rig;

  explicit RunFixture(ModelFamily f = ModelFamily::Llama)
      : run(tmp.file("run")),
        cfg(testutil::rig_job(tiny_model(f), 2, 8, {})),
        rig(std::make_unique<ExecutorRig>(tiny_model(f), 2, 8)) {
    cfg.train.steps = 100;
    validate(cfg);
  }
  static TrainState state_at(int step) {
    TrainState st;
    st.step = step;
    st.tokens_seen = static_cast<uint64_t>(step) * 16;
    st.loader.position = static_cast<uint64_t>(step) * 16;
    return st;
  }
  std::string save(int step, int keep = 2) {
    return save_checkpoint(run, cfg, rig->spec, *rig->states, state_at(step), keep);
  }
  std::string ckpt(int step) const {
    char buf[32];
    std::snprintf(buf, sizeof buf, "/checkpoints/step_%08d", step);
    return run + buf;
  }
};

inline void edit_json(const std::string& path, const std::function<void(nlohmann::json&)>& fn) {
  nlohmann::json j = nlohmann::json::parse(read_all(path));
  fn(j);
  write_all(path, j.dump(2) + "\n");
}

// Rewrites one tensor of a safetensors file through `fn` (F32 values), keeping the rest.
inline void edit_tensor(const std::string& path, const std::string& name,
                        const std::function<void(std::vector<float>&)>& fn) {
  std::vector<std::pair<TensorView, std::vector<float>>> all;
  {
    SafetensorsFile f(path);
    for (const auto& [n, t] : f.tensors()) {
      std::vector<float> v(static_cast<size_t>(t.numel()));
      std::memcpy(v.data(), t.data, t.nbytes);
      if (n == name) fn(v);
      TensorView copy = t;
      copy.data = nullptr;
      all.emplace_back(copy, std::move(v));
    }
    EXPECT_TRUE(f.contains(name)) << name;
  }
  SafetensorsWriter w;
  for (auto& [t, v] : all) w.add(t.name, DType::F32, t.shape, v.data());
  w.write(path);
}

// Recomputes DIR's manifest, as a tool that knew the format could: the checks behind the
// checksums must catch what a resealed manifest lets through.
inline void reseal(const std::string& dir) {
  write_checkpoint_manifest(dir);
}

}  // namespace mart::ckpt_test
