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
  nlohmann::json j;
  if (c.family == ModelFamily::GPT2) {
    j = {{"model_type", "gpt2"},
         {"architectures", {"GPT2LMHeadModel"}},
         {"n_layer", c.n_layer},
         {"n_head", c.n_head},
         {"n_embd", c.d_model},
         {"n_inner", c.d_ff},
         {"n_positions", c.max_seq_len},
         {"n_ctx", c.max_seq_len},
         {"vocab_size", c.vocab_size},
         {"layer_norm_epsilon", c.norm_eps},
         {"activation_function", "gelu_new"},
         {"tie_word_embeddings", true}};
  } else {
    j = {{"model_type", "llama"},
         {"architectures", {"LlamaForCausalLM"}},
         {"num_hidden_layers", c.n_layer},
         {"num_attention_heads", c.n_head},
         {"num_key_value_heads", c.n_kv_head},
         {"hidden_size", c.d_model},
         {"intermediate_size", c.d_ff},
         {"vocab_size", c.vocab_size},
         {"rms_norm_eps", c.norm_eps},
         {"rope_theta", c.rope_theta},
         {"max_position_embeddings", c.max_seq_len},
         {"hidden_act", "silu"},
         {"attention_bias", false},
         {"mlp_bias", false},
         {"tie_word_embeddings", c.tied_embeddings}};
  }
  j["torch_dtype"] = "float32";
  j["initializer_range"] = c.init_std;
  return j;
}

ModelConfig model_config_from_hf(const nlohmann::json& j, const std::string& origin) {
  auto get = [&](const char* key) -> const nlohmann::json& {
    MART_CHECK(j.contains(key) && !j[key].is_null(), origin, ": missing key '", key, "'");
    return j[key];
  };
  MART_CHECK(j.contains("model_type"), origin, ": missing key 'model_type'");
  const std::string type = j["model_type"].get<std::string>();
  ModelConfig c;
  if (type == "gpt2") {
    c.family = ModelFamily::GPT2;
    c.n_layer = get("n_layer").get<int>();
    c.n_head = get("n_head").get<int>();
    c.n_kv_head = c.n_head;
    c.d_model = get("n_embd").get<int>();
    c.d_ff =
        j.contains("n_inner") && !j["n_inner"].is_null() ? j["n_inner"].get<int>() : 4 * c.d_model;
    c.max_seq_len = get("n_positions").get<int>();
    c.vocab_size = get("vocab_size").get<int>();
    c.norm_eps = j.value("layer_norm_epsilon", 1e-5f);
    c.tied_embeddings = true;
  } else if (type == "llama") {
    c.family = ModelFamily::Llama;
    c.n_layer = get("num_hidden_layers").get<int>();
    c.n_head = get("num_attention_heads").get<int>();
    c.n_kv_head = j.value("num_key_value_heads", c.n_head);
    c.d_model = get("hidden_size").get<int>();
    c.d_ff = get("intermediate_size").get<int>();
    c.vocab_size = get("vocab_size").get<int>();
    c.norm_eps = j.value("rms_norm_eps", 1e-6f);
    c.rope_theta = j.value("rope_theta", 10000.0f);
    c.max_seq_len = j.value("max_position_embeddings", 2048);
    c.tied_embeddings = j.value("tie_word_embeddings", false);
  } else {
    MART_FAIL(origin, ": model_type '", type, "' is not supported (gpt2 or llama)");
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
  const bool gpt2 = spec.cfg.family == ModelFamily::GPT2;
  for (size_t i = 0; i < spec.params.size(); ++i) {
    const ParamInfo& p = spec.params[i];
    std::string name = p.name;
    if (!f.contains(name) && gpt2 && name.rfind("transformer.", 0) == 0)
      name = name.substr(std::string("transformer.").size());  // original gpt2 files
    MART_CHECK(f.contains(name), path, ": tensor '", p.name,
               "' is missing (is this checkpoint for the configured model family and size?)");
    const TensorView& t = f.tensor(name);
    std::vector<int64_t> want = p.shape;
    if (p.transpose_io) std::swap(want[0], want[1]);
    MART_CHECK(t.shape == want, path, ": tensor '", name, "' has shape ",
               nlohmann::json(t.shape).dump(), " but the configured model needs ",
               nlohmann::json(want).dump());
    std::vector<float> v = to_f32(t);
    if (p.transpose_io) v = transpose(v, want[0], want[1]);
    states.write_param(static_cast<int>(i), v.data());
  }
}

}  // namespace mart
