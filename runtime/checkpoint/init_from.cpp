#include "runtime/checkpoint/init_from.h"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "runtime/checkpoint/checkpoint_fs.h"
#include "runtime/checkpoint/hf_checkpoint.h"
#include "runtime/checkpoint/model_source.h"

namespace mart {
namespace {

namespace fs = std::filesystem;

std::string shown(int v) {
  return std::to_string(v);
}
std::string shown(bool v) {
  return v ? "true" : "false";
}
std::string shown(float v) {  // shortest exact form: two values that differ never print alike
  char buf[64];
  const bool whole = v == std::trunc(v) && std::fabs(v) < 1e15f;  // 500000, not 5e+05
  const auto r = whole ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed)
                       : std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}
std::string shown(ModelFamily f) {
  return family_name(f);
}

InitSource from_weights_file(const fs::path& file) {
  InitSource s;
  s.weights_path = file.string();
  const fs::path cfg = file.parent_path() / "config.json";
  std::error_code ec;
  if (!fs::exists(cfg, ec)) return s;  // a bare file: the job config states the model
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(ckpt_fs::read_small_file(cfg.string(), "Hugging Face config"));
  } catch (const nlohmann::json::exception& e) {
    MART_FAIL("--init-from ", file.string(), ": ", cfg.string(), " is not valid JSON (", e.what(),
              ")");
  }
  s.model = model_config_from_hf(j, cfg.string());
  s.config_path = cfg.string();
  s.has_config = true;
  return s;
}

}  // namespace

InitSource resolve_init_source(const std::string& path) {
  std::error_code ec;
  MART_CHECK(fs::exists(path, ec), "--init-from ", path, ": no such file or directory");
  if (!fs::is_directory(path, ec)) return from_weights_file(path);
  const fs::path dir(path);
  // A folder with weights but no config.json: the legacy form, the job config states the model.
  if (!fs::exists(dir / "config.json", ec) && fs::exists(dir / "model.safetensors", ec))
    return from_weights_file(dir / "model.safetensors");
  const ModelSource src = resolve_model_source(path);
  InitSource s;
  s.has_config = true;
  s.model = src.config.model;
  s.weights_path = src.weights_path;
  s.config_path = fs::path(src.weights_path).parent_path() / "config.json";
  return s;
}

void merge_init_model(ModelConfig& job, const std::set<std::string>& stated,
                      const ModelConfig& ckpt, const std::string& job_origin,
                      const std::string& ckpt_origin) {
  const ModelFamilyTraits& fam = family_traits(ckpt.family);
  auto take = [&](const char* key, auto& mine, const auto& theirs) {
    if (!stated.count(key)) {
      mine = theirs;
      return;
    }
    MART_CHECK(mine == theirs, "--init-from: model.", key, " is ", shown(mine), " in ", job_origin,
               " but ", shown(theirs), " in ", ckpt_origin,
               "; the checkpoint's architecture cannot change, so remove model.", key,
               " from the job config (it is then taken from the checkpoint) or set it to ",
               shown(theirs));
  };
  take("family", job.family, ckpt.family);
  take("n_layer", job.n_layer, ckpt.n_layer);
  take("d_model", job.d_model, ckpt.d_model);
  take("n_head", job.n_head, ckpt.n_head);
  take("n_kv_head", job.n_kv_head, ckpt.n_kv_head);
  take("d_ff", job.d_ff, ckpt.d_ff);
  take("vocab_size", job.vocab_size, ckpt.vocab_size);
  take("max_seq_len", job.max_seq_len, ckpt.max_seq_len);
  take("norm_eps", job.norm_eps, ckpt.norm_eps);
  // A family without rotary positions has no rope_theta to disagree about.
  if (fam.hf.rope_theta || !stated.count("rope_theta"))
    take("rope_theta", job.rope_theta, ckpt.rope_theta);
  take("tied_embeddings", job.tied_embeddings, ckpt.tied_embeddings);
  if (!stated.count("init_std")) job.init_std = ckpt.init_std;
}

}  // namespace mart
