// Model weights in Hugging Face's layout: model.safetensors (HF tensor names), config.json and
// generation_config.json, so a real GPT-2 or Llama checkpoint loads into MART and MART's weights
// load in transformers (from_pretrained).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "nlohmann/json_fwd.hpp"
#include "runtime/model/model_spec.h"
#include "runtime/model/model_states.h"

namespace mart {

// The tokenizer's special tokens, written into config.json and generation_config.json (null when
// the tokenizer has none: transformers' own defaults, e.g. GPT-2's 50256, may not exist in a small
// vocabulary).
struct HfTokenIds {
  std::optional<uint32_t> bos, eos;
};

// Hugging Face config.json for the model: architectures, model_type, sizes, eps, rope_theta,
// torch_dtype, bos/eos ids -- what from_pretrained needs for GPT2LMHeadModel / LlamaForCausalLM.
nlohmann::json hf_config_json(const ModelConfig& cfg, const HfTokenIds& ids = {});
// generation_config.json: bos/eos ids (null when unknown).
nlohmann::json hf_generation_config_json(const HfTokenIds& ids);
// Reads a Hugging Face config.json (GPT-2 or Llama keys); throws naming `origin` and a missing key
// or one of the wrong type or range (sizes positive integers below 2^31, floats finite).
ModelConfig model_config_from_hf(const nlohmann::json& j, const std::string& origin);

// Writes DIR/model.safetensors (fp32), DIR/config.json and DIR/generation_config.json atomically
// (creating DIR). GPT-2 Conv1D weights are written transposed ([in, out]) as Hugging Face stores
// them. on_bytes (optional): weight bytes written so far (SafetensorsWriter::write).
void save_hf_weights(const ModelSpec& spec, ModelStates& states, const std::string& dir,
                     const HfTokenIds& ids = {},
                     const std::function<void(uint64_t bytes)>& on_bytes = {});
// Loads every parameter from a safetensors file (F32, BF16 or F16). Accepts GPT-2 names with or
// without the "transformer." prefix and ignores non-parameter buffers (attn.bias, inv_freq).
// Throws naming the file and tensor on a missing tensor, a shape mismatch, or a value that is NaN,
// infinite or beyond kMaxAbsWeight (weight_checks.h); PATH must be a regular file (a FIFO would
// block). Every tensor is checked before the first weight is written.
void load_hf_weights(const ModelSpec& spec, ModelStates& states, const std::string& path);

}  // namespace mart
