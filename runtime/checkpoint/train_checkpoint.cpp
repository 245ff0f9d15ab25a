#include "runtime/checkpoint/train_checkpoint.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "config/config_loader.h"
#include "io/atomic_file.h"
#include "io/checksum.h"
#include "io/safetensors.h"
#include "runtime/checkpoint/hf_checkpoint.h"

namespace fs = std::filesystem;

namespace mart {
namespace {

constexpr int kFormatVersion = 1;

void write_text(const std::string& path, const std::string& text) {
  write_file_atomic(path, text.data(), text.size());
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  MART_CHECK(f.good(), "cannot read '", path, "'");
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

void fsync_dir(const fs::path& dir) {
  FILE* f = std::fopen(dir.c_str(), "r");
  if (f) {
    fsync(fileno(f));
    std::fclose(f);
  }
}

std::string step_name(int step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step_%08d", step);
  return buf;
}

nlohmann::json file_entry(const fs::path& p) {
  return {{"bytes", fs::file_size(p)}, {"crc32c", crc32c_file(p.string())}};
}

nlohmann::json read_state_json(const std::string& dir) {
  const std::string path = dir + "/trainer_state.json";
  MART_CHECK(fs::exists(path), "'", dir,
             "' is not a MART checkpoint: trainer_state.json is missing");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text(path));
  } catch (const nlohmann::json::exception& e) {
    MART_FAIL("corrupt checkpoint: ", path, " is not valid JSON (", e.what(), ")");
  }
  MART_CHECK(j.value("format_version", 0) == kFormatVersion, "checkpoint ", path,
             " has format_version ", j.value("format_version", 0), ", this MART reads ",
             kFormatVersion);
  // Verify every file before anything is loaded.
  for (auto& [name, e] : j.at("files").items()) {
    fs::path p = fs::path(dir) / name;
    MART_CHECK(fs::exists(p), "corrupt checkpoint: ", p.string(), " is missing");
    uint64_t bytes = fs::file_size(p);
    MART_CHECK(bytes == e.at("bytes").get<uint64_t>(), "corrupt checkpoint: ", p.string(), " has ",
               bytes, " bytes, expected ", e.at("bytes").get<uint64_t>(), " (truncated?)");
    MART_CHECK(crc32c_file(p.string()) == e.at("crc32c").get<uint32_t>(),
               "corrupt checkpoint: ", p.string(), " fails its CRC32C check");
  }
  return j;
}

}  // namespace

std::string save_checkpoint(const std::string& run_dir, const JobConfig& cfg, const ModelSpec& spec,
                            ModelStates& states, const TrainState& st, int keep) {
  const fs::path root = fs::path(run_dir) / "checkpoints";
  fs::create_directories(root);
  const std::string name = step_name(st.step);
  const fs::path tmp = root / (".tmp-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  try {
    save_hf_weights(spec, states, tmp.string());
    // Optimizer state, named after the parameters.
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
    w.write((tmp / "optimizer.safetensors").string());
    nlohmann::json j;
    j["format_version"] = kFormatVersion;
    j["step"] = st.step;
    j["tokens_seen"] = st.tokens_seen;
    j["best_val_loss"] = st.best_val_loss;
    j["loader"] = st.loader;
    j["config"] = to_json(cfg);
    j["files"] = nlohmann::json::object();
    for (const char* f : {"model.safetensors", "config.json", "optimizer.safetensors"})
      j["files"][f] = file_entry(tmp / f);
    write_text((tmp / "trainer_state.json").string(), j.dump(2) + "\n");
    fsync_dir(tmp);
    const fs::path final_dir = root / name;
    if (fs::exists(final_dir)) fs::remove_all(final_dir);  // same step saved again
    fs::rename(tmp, final_dir);
    fsync_dir(root);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  write_text((root / "latest").string(), name + "\n");
  // Prune: keep the newest `keep` complete checkpoints (names sort by step).
  std::vector<std::string> all;
  for (auto& e : fs::directory_iterator(root))
    if (e.is_directory() && e.path().filename().string().rfind("step_", 0) == 0)
      all.push_back(e.path().filename().string());
  std::sort(all.begin(), all.end());
  for (size_t i = 0; keep > 0 && i + keep < all.size(); ++i) fs::remove_all(root / all[i]);
  return (root / name).string();
}

std::string latest_checkpoint(const std::string& run_dir) {
  const fs::path root = fs::path(run_dir) / "checkpoints";
  const fs::path latest = root / "latest";
  MART_CHECK(fs::exists(latest), "no checkpoint to resume in '", run_dir, "' (", latest.string(),
             " does not exist)");
  std::string name = read_text(latest.string());
  while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
  MART_CHECK(!name.empty() && name.find('/') == std::string::npos, "corrupt checkpoint pointer ",
             latest.string());
  MART_CHECK(fs::is_directory(root / name), latest.string(), " names '", name,
             "', which does not exist");
  return (root / name).string();
}

JobConfig checkpoint_config(const std::string& dir) {
  return job_config_from_json(read_state_json(dir).at("config"));
}

TrainState load_checkpoint(const std::string& dir, const ModelSpec& spec, ModelStates& states) {
  nlohmann::json j = read_state_json(dir);
  JobConfig saved = job_config_from_json(j.at("config"));
  // Every architectural field must agree: shapes alone can match across different models
  // (e.g. another head count with the same widths).
  {
    const ModelConfig &a = saved.model, &b = spec.cfg;
    auto differ = [&](const char* field, auto x, auto y) {
      MART_CHECK(x == y, "checkpoint ", dir, " was made for a model with model.", field, " = ", x,
                 ", but the configured model has ", y, " (model config mismatch)");
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
  ModelSpec saved_spec = build_model_spec(saved.model);
  MART_CHECK(saved_spec.params.size() == spec.params.size() && saved_spec.n_params == spec.n_params,
             "checkpoint ", dir, " holds a model with ", saved_spec.n_params, " parameters in ",
             saved_spec.params.size(), " tensors, but the configured model has ", spec.n_params,
             " in ", spec.params.size(), " (model config mismatch)");
  load_hf_weights(spec, states, dir + "/model.safetensors");
  SafetensorsFile opt(dir + "/optimizer.safetensors");
  for (size_t i = 0; i < spec.params.size(); ++i) {
    const ParamInfo& p = spec.params[i];
    for (const char* suffix : {".exp_avg", ".exp_avg_sq"})
      MART_CHECK(opt.contains(p.name + suffix) && opt.tensor(p.name + suffix).shape == p.shape &&
                     opt.tensor(p.name + suffix).dtype == DType::F32,
                 "checkpoint ", dir, ": optimizer state '", p.name, suffix,
                 "' is missing or has the wrong shape/dtype");
    const auto& m = opt.tensor(p.name + ".exp_avg");
    const auto& v = opt.tensor(p.name + ".exp_avg_sq");
    states.write_adam(static_cast<int>(i), reinterpret_cast<const float*>(m.data),
                      reinterpret_cast<const float*>(v.data));
  }
  TrainState st;
  st.step = j.at("step").get<int>();
  st.tokens_seen = j.value("tokens_seen", uint64_t{0});
  st.best_val_loss = j.value("best_val_loss", 0.0);
  st.loader = j.at("loader").get<LoaderState>();
  return st;
}

}  // namespace mart
