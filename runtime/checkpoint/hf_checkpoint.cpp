#include "runtime/checkpoint/hf_checkpoint.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/error.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"

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
  const std::byte* d = t.data;
  for (size_t i = 0; i < out.size(); ++i) {
    switch (t.dtype) {
      case DType::F32:
        std::memcpy(&out[i], d + 4 * i, 4);
        break;
      case DType::BF16: {
        uint16_t h;
        std::memcpy(&h, d + 2 * i, 2);
        out[i] = bf16_to_f32(h);
        break;
      }
      case DType::F16: {
        uint16_t h;
        std::memcpy(&h, d + 2 * i, 2);
        // IEEE half -> float
        uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
        if (exp == 0) {
          if (man == 0)
            u = sign;
          else {
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) man <<= 1, --exp;
            u = sign | (exp << 23) | ((man & 0x3ff) << 13);
          }
        } else if (exp == 31)
          u = sign | 0x7f800000u | (man << 13);
        else
          u = sign | ((exp + 127 - 15) << 23) | (man << 13);
        std::memcpy(&out[i], &u, 4);
        break;
      }
      default:
        MART_FAIL("tensor '", t.name, "' has dtype ", dtype_name(t.dtype),
                  "; model weights must be F32, BF16 or F16");
    }
  }
  return out;
}

}  // namespace

nlohmann::json hf_config_json(const ModelConfig& c) {
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
  return j;
}

ModelConfig model_config_from_hf(const nlohmann::json& j, const std::string& origin) {
  auto has = [&](const char* key) { return key && j.contains(key) && !j[key].is_null(); };
  auto get = [&](const char* key) -> const nlohmann::json& {
    MART_CHECK(has(key), origin, ": missing key '", key, "'");
    return j[key];
  };
  MART_CHECK(j.contains("model_type"), origin, ": missing key 'model_type'");
  const std::string type = j["model_type"].get<std::string>();
  std::string supported;
  for (const ModelFamilyTraits& f : kModelFamilyTraits)
    supported += (supported.empty() ? "" : " or ") + std::string(f.hf_model_type);
  const ModelFamilyTraits* fam = find_hf_family(type);
  MART_CHECK(fam, origin, ": model_type '", type, "' is not supported (", supported, ")");
  const HfConfigKeys& k = fam->hf;
  ModelConfig c;
  c.family = fam->family;
  c.n_layer = get(k.n_layer).get<int>();
  c.n_head = get(k.n_head).get<int>();
  c.n_kv_head = has(k.n_kv_head) ? j[k.n_kv_head].get<int>() : c.n_head;
  c.d_model = get(k.d_model).get<int>();
  c.vocab_size = get("vocab_size").get<int>();
  if (k.rope_theta) c.rope_theta = j.value(k.rope_theta, 10000.0f);
  c.tied_embeddings = fam->always_tied || j.value("tie_word_embeddings", false);
  switch (c.family) {  // what each family's files may omit, and its defaults
    case ModelFamily::GPT2:
      c.d_ff = has(k.d_ff) ? j[k.d_ff].get<int>() : 4 * c.d_model;
      c.max_seq_len = get(k.max_seq_len).get<int>();
      c.norm_eps = j.value(k.norm_eps, 1e-5f);
      break;
    case ModelFamily::Llama:
      c.d_ff = get(k.d_ff).get<int>();
      c.max_seq_len = j.value(k.max_seq_len, 2048);
      c.norm_eps = j.value(k.norm_eps, 1e-6f);
      break;
  }
  if (j.contains("initializer_range")) c.init_std = j["initializer_range"].get<float>();
  return c;
}

void save_hf_weights(const ModelSpec& spec, ModelStates& states, const std::string& dir) {
  std::filesystem::create_directories(dir);
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
  w.write(dir + "/model.safetensors");
  const std::string cfg = hf_config_json(spec.cfg).dump(2) + "\n";
  write_file_atomic(dir + "/config.json", cfg.data(), cfg.size());
}

void load_hf_weights(const ModelSpec& spec, ModelStates& states, const std::string& path) {
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
  for (size_t i = 0; i < spec.params.size(); ++i) {
    const ParamInfo& p = spec.params[i];
    std::vector<float> v = to_f32(*found[i]);
    if (p.transpose_io) v = transpose(v, p.shape[1], p.shape[0]);
    states.write_param(static_cast<int>(i), v.data());
  }
}

}  // namespace mart
