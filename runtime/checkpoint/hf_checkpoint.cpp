#include "runtime/checkpoint/hf_checkpoint.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/error.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "runtime/checkpoint/checkpoint_fs.h"
#include "runtime/checkpoint/weight_checks.h"

namespace mart {
namespace {

std::vector<float> transpose(const std::vector<float>& x, int64_t rows, int64_t cols) {
  std::vector<float> y(x.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) y[c * rows + r] = x[r * cols + c];
  return y;
}

std::vector<float> to_f32(const TensorView& t) {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < out.size(); ++i) out[i] = element_as_f32(t, i);
  return out;
}

// Typed reads of config.json values: a wrong type or an out-of-range number names the file and
// the key instead of surfacing nlohmann's "[json.exception.type_error.302]".
int get_int(const nlohmann::json& v, const char* key, const std::string& origin) {
  MART_CHECK(v.is_number_integer() && v.get<int64_t>() >= 1 && v.get<int64_t>() <= INT32_MAX,
             origin, ": key '", key, "' must be a positive integer below 2^31, got ", v.dump());
  return v.get<int>();
}

float get_float(const nlohmann::json& v, const char* key, const std::string& origin) {
  MART_CHECK(v.is_number() && std::isfinite(v.get<double>()) &&
                 std::fabs(v.get<double>()) <= std::numeric_limits<float>::max(),
             origin, ": key '", key, "' must be a finite number, got ", v.dump());
  return v.get<float>();
}

bool get_bool(const nlohmann::json& v, const char* key, const std::string& origin) {
  MART_CHECK(v.is_boolean(), origin, ": key '", key, "' must be true or false, got ", v.dump());
  return v.get<bool>();
}

nlohmann::json token_id(const std::optional<uint32_t>& id) {
  return id ? nlohmann::json(*id) : nlohmann::json(nullptr);
}

void write_json(const std::string& path, const nlohmann::json& j) {
  const std::string text = j.dump(2) + "\n";
  write_file_atomic(path, text.data(), text.size());
}

}  // namespace

nlohmann::json hf_generation_config_json(const HfTokenIds& ids) {
  return {{"_from_model_config", true},
          {"bos_token_id", token_id(ids.bos)},
          {"eos_token_id", token_id(ids.eos)}};
}

nlohmann::json hf_config_json(const ModelConfig& c, const HfTokenIds& ids) {
  const ModelFamilyTraits& fam = family_traits(c.family);
  const HfConfigKeys& k = fam.hf;
  nlohmann::json j = {{"model_type", fam.hf_model_type},
                      {"architectures", {fam.hf_architecture}},
                      {k.n_layer, c.n_layer},
                      {k.n_head, c.n_head},
                      {k.d_model, c.d_model},
                      {k.d_ff, c.d_ff},
                      {k.max_seq_len, c.max_seq_len},
                      {"vocab_size", c.vocab_size},
                      {k.norm_eps, c.norm_eps},
                      {"tie_word_embeddings", fam.always_tied || c.tied_embeddings}};
  if (k.n_kv_head) j[k.n_kv_head] = c.n_kv_head;
  if (k.rope_theta) j[k.rope_theta] = c.rope_theta;
  switch (c.family) {  // the keys only one family's config.json has
    case ModelFamily::GPT2:
      j["n_ctx"] = c.max_seq_len;
      j["activation_function"] = "gelu_new";
      break;
    case ModelFamily::Llama:
      j["hidden_act"] = "silu";
      j["attention_bias"] = false;
      j["mlp_bias"] = false;
      break;
  }
  j["torch_dtype"] = "float32";
  j["initializer_range"] = c.init_std;
  j["bos_token_id"] = token_id(ids.bos);
  j["eos_token_id"] = token_id(ids.eos);
  return j;
}

ModelConfig model_config_from_hf(const nlohmann::json& j, const std::string& origin) {
  MART_CHECK(j.is_object(), origin, ": must be a JSON object (a Hugging Face config.json)");
  auto has = [&](const char* key) { return key && j.contains(key) && !j[key].is_null(); };
  auto get = [&](const char* key) -> const nlohmann::json& {
    MART_CHECK(has(key), origin, ": missing key '", key, "'");
    return j[key];
  };
  auto int_or = [&](const char* key, int dflt) {
    return has(key) ? get_int(j[key], key, origin) : dflt;
  };
  auto float_or = [&](const char* key, float dflt) {
    return has(key) ? get_float(j[key], key, origin) : dflt;
  };
  MART_CHECK(has("model_type") && j["model_type"].is_string(), origin,
             ": missing key 'model_type' (a string such as \"llama\")");
  const std::string type = j["model_type"].get<std::string>();
  std::string supported;
  for (const ModelFamilyTraits& f : kModelFamilyTraits)
    supported += (supported.empty() ? "" : " or ") + std::string(f.hf_model_type);
  const ModelFamilyTraits* fam = find_hf_family(type);
  MART_CHECK(fam, origin, ": model_type '", type, "' is not supported (", supported, ")");
  const HfConfigKeys& k = fam->hf;
  ModelConfig c;
  c.family = fam->family;
  c.n_layer = get_int(get(k.n_layer), k.n_layer, origin);
  c.n_head = get_int(get(k.n_head), k.n_head, origin);
  c.n_kv_head = int_or(k.n_kv_head, c.n_head);
  c.d_model = get_int(get(k.d_model), k.d_model, origin);
  c.vocab_size = get_int(get("vocab_size"), "vocab_size", origin);
  if (k.rope_theta) c.rope_theta = float_or(k.rope_theta, 10000.0f);
  c.tied_embeddings =
      fam->always_tied || (has("tie_word_embeddings") &&
                           get_bool(j["tie_word_embeddings"], "tie_word_embeddings", origin));
  switch (c.family) {  // what each family's files may omit, and its defaults
    case ModelFamily::GPT2:
      c.d_ff = int_or(k.d_ff, 4 * c.d_model);
      c.max_seq_len = get_int(get(k.max_seq_len), k.max_seq_len, origin);
      c.norm_eps = float_or(k.norm_eps, 1e-5f);
      break;
    case ModelFamily::Llama:
      c.d_ff = get_int(get(k.d_ff), k.d_ff, origin);
      c.max_seq_len = int_or(k.max_seq_len, 2048);
      c.norm_eps = float_or(k.norm_eps, 1e-6f);
      break;
  }
  c.init_std = float_or("initializer_range", c.init_std);
  return c;
}

void save_hf_weights(const ModelSpec& spec, ModelStates& states, const std::string& dir,
                     const HfTokenIds& ids, const std::function<void(uint64_t bytes)>& on_bytes) {
  ckpt_fs::create_directories(dir);
  std::vector<std::vector<float>> data(spec.params.size());
  SafetensorsWriter w;
  for (size_t i = 0; i < spec.params.size(); ++i) {
    const ParamInfo& p = spec.params[i];
    data[i].resize(p.numel);
    states.read_param(static_cast<int>(i), data[i].data());
    std::vector<int64_t> shape = p.shape;
    if (p.transpose_io) {
      data[i] = transpose(data[i], p.shape[0], p.shape[1]);
      std::swap(shape[0], shape[1]);
    }
    w.add(p.name, DType::F32, shape, data[i].data());
  }
  w.set_metadata("format", "pt");
  w.set_metadata("producer", "mart");
  w.write(dir + "/model.safetensors", on_bytes);
  write_json(dir + "/config.json", hf_config_json(spec.cfg, ids));
  write_json(dir + "/generation_config.json", hf_generation_config_json(ids));
}

void load_hf_weights(const ModelSpec& spec, ModelStates& states, const std::string& path) {
  ckpt_fs::require_regular_file(path, "weights file");
  SafetensorsFile f(path);
  const std::string prefix = family_traits(spec.cfg.family).hf_optional_prefix;
  // Every tensor is found and checked before the first is written, so a file that does not fit
  // the model leaves the weights as they were.
  std::vector<const TensorView*> found(spec.params.size());
  for (size_t i = 0; i < spec.params.size(); ++i) {
    const ParamInfo& p = spec.params[i];
    std::string name = p.name;
    if (!f.contains(name) && !prefix.empty() && name.rfind(prefix, 0) == 0)
      name = name.substr(prefix.size());  // original files of the family (e.g. gpt2's)
    MART_CHECK(f.contains(name), path, ": tensor '", p.name,
               "' is missing (is this checkpoint for the configured model family and size?)");
    const TensorView& t = f.tensor(name);
    std::vector<int64_t> want = p.shape;
    if (p.transpose_io) std::swap(want[0], want[1]);
    MART_CHECK(t.shape == want, path, ": tensor '", name, "' has shape ",
               nlohmann::json(t.shape).dump(), " but the configured model needs ",
               nlohmann::json(want).dump());
    MART_CHECK(t.dtype == DType::F32 || t.dtype == DType::BF16 || t.dtype == DType::F16, path,
               ": tensor '", name, "' has dtype ", dtype_name(t.dtype),
               "; model weights must be F32, BF16 or F16");
    found[i] = &t;
  }
  for (const TensorView* t : found) check_weight_values(*t, path);
  for (size_t i = 0; i < spec.params.size(); ++i) {
    const ParamInfo& p = spec.params[i];
    std::vector<float> v = to_f32(*found[i]);
    if (p.transpose_io) v = transpose(v, p.shape[1], p.shape[0]);
    states.write_param(static_cast<int>(i), v.data());
  }
}

}  // namespace mart
