// The model families, as one enum and one trait table: the architecture choices (norm,
// positions, MLP, biases, tied head) and the Hugging Face names (model_type, architecture,
// config.json keys). Code that differs by family reads a trait here, or switches over
// ModelFamily without `default:` so -Wswitch names every place a new family must be handled;
// nothing may test `family == GPT2` and send every other family down the Llama path.
//
// Adding a family: the enumerator, a row in kModelFamilyTraits, then each switch the compiler
// names (the parameter list in runtime/model/model_spec.cpp, the HF config in
// runtime/checkpoint/hf_checkpoint.cpp) and the kernels its traits select.
#pragma once
#include <array>
#include <cstddef>
#include <string>

namespace mart {

enum class ModelFamily { GPT2, Llama };
inline constexpr size_t kModelFamilyCount = 2;

enum class NormKind { LayerNorm, RmsNorm };  // LayerNorm: mean and rstd; RMSNorm: rstd only
enum class PositionKind { Learned, Rope };   // a position table (wpe) or rotary q/k
enum class MlpKind { Gelu, SwiGlu };         // fc -> GELU, or [gate | up] -> SiLU(gate) * up

// Keys of a family's Hugging Face config.json.
struct HfConfigKeys {
  const char* n_layer;
  const char* n_head;
  const char* n_kv_head;  // nullptr: the family has no grouped-query attention (= n_head)
  const char* d_model;
  const char* d_ff;
  const char* max_seq_len;
  const char* norm_eps;
  const char* rope_theta;  // nullptr: no rotary positions
};

struct ModelFamilyTraits {
  ModelFamily family;
  const char* name;     // model.family in the job config: "gpt2" | "llama"
  const char* display;  // in messages: "GPT-2"
  NormKind norm;
  PositionKind positions;
  MlpKind mlp;
  bool biases;       // linear layers and norms have biases
  bool always_tied;  // the head always shares the embedding (else model.tied_embeddings says)
  bool grouped_query_attention;  // n_kv_head may be below n_head
  const char* hf_model_type;     // config.json "model_type"
  const char* hf_architecture;   // config.json "architectures"[0]
  // Tensor-name prefix that original checkpoints of the family may omit ("" for none).
  const char* hf_optional_prefix;
  HfConfigKeys hf;
};

// Indexed by ModelFamily (checked below).
inline constexpr std::array<ModelFamilyTraits, kModelFamilyCount> kModelFamilyTraits{{
    {ModelFamily::GPT2,
     "gpt2",
     "GPT-2",
     NormKind::LayerNorm,
     PositionKind::Learned,
     MlpKind::Gelu,
     true,
     true,
     false,
     "gpt2",
     "GPT2LMHeadModel",
     "transformer.",
     {"n_layer", "n_head", nullptr, "n_embd", "n_inner", "n_positions", "layer_norm_epsilon",
      nullptr}},
    {ModelFamily::Llama,
     "llama",
     "Llama",
     NormKind::RmsNorm,
     PositionKind::Rope,
     MlpKind::SwiGlu,
     false,
     false,
     true,
     "llama",
     "LlamaForCausalLM",
     "",
     {"num_hidden_layers", "num_attention_heads", "num_key_value_heads", "hidden_size",
      "intermediate_size", "max_position_embeddings", "rms_norm_eps", "rope_theta"}},
}};

constexpr const ModelFamilyTraits& family_traits(ModelFamily f) {
  return kModelFamilyTraits[static_cast<size_t>(f)];
}
constexpr bool family_table_in_enum_order() {
  for (size_t i = 0; i < kModelFamilyCount; ++i)
    if (static_cast<size_t>(kModelFamilyTraits[i].family) != i) return false;
  return true;
}
static_assert(family_table_in_enum_order(), "kModelFamilyTraits must list families in enum order");

inline const char* family_name(ModelFamily f) {
  return family_traits(f).name;
}
// Width of the MLP's first projection in units of d_ff: 1 (fc) or 2 ([gate | up]).
constexpr int mlp_in_factor(MlpKind m) {
  switch (m) {
    case MlpKind::Gelu:
      return 1;
    case MlpKind::SwiGlu:
      return 2;
  }
  return 0;
}
// The family named `name` ("gpt2"), or nullptr.
const ModelFamilyTraits* find_family(const std::string& name);
// The family whose Hugging Face model_type is `model_type`, or nullptr.
const ModelFamilyTraits* find_hf_family(const std::string& model_type);
// "gpt2 or llama": for messages.
std::string family_choices();

}  // namespace mart
