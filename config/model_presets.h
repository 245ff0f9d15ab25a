// Built-in model shapes, selectable in a job config as `model: gpt2-124m` or
// `model: {preset: gpt2-124m, n_layer: 6}` (the preset first, then the listed keys on top).
//
//   gpt2-124m/350m/774m/1.5b  OpenAI GPT-2 (vocab 50257, context 1024, tied embeddings,
//                             d_ff = 4*d_model, n_kv_head = n_head, LayerNorm eps 1e-5)
//   llama-1b                  Llama-3.2-1B shape (vocab 128256, rope_theta 500000, GQA 32/8),
//                             but untied and with context 8192 (see model_presets.cpp)
//   llama-7b/13b/70b          Llama-2 shapes (vocab 32000, context 4096, RMSNorm eps 1e-5;
//                             70b uses GQA with 8 kv heads)
//   tiny-gpt2, tiny-llama     two-block byte-level models for tests and smoke runs
//
// configs/models/<name>.yaml spells each one out field by field (a test keeps them equal).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/job_config.h"

namespace mart {

// Every preset name, in the order above.
std::vector<std::string> model_preset_names();

// The preset's shape, or nullopt if there is no preset of that name.
std::optional<ModelConfig> find_model_preset(std::string_view name);

// The preset's shape; throws mart::Error naming the closest preset name if there is none.
ModelConfig model_preset(std::string_view name);

}  // namespace mart
