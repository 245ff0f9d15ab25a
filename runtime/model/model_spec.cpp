#include "runtime/model/model_spec.h"

#include "common/error.h"

namespace mart {
namespace {

struct Builder {
  ModelSpec& s;
  int group = 0;
  int add(std::string name, std::vector<int64_t> shape, bool decay, bool transpose = false) {
    ParamInfo p;
    p.name = std::move(name);
    p.shape = std::move(shape);
    p.numel = 1;
    for (auto d : p.shape) p.numel *= static_cast<uint64_t>(d);
    p.offset = s.n_params;
    p.group = group;
    p.decay = decay;
    p.transpose_io = transpose;
    s.n_params += p.numel;
    s.params.push_back(std::move(p));
    return static_cast<int>(s.params.size()) - 1;
  }
};

void check_config(const ModelConfig& c) {
  MART_CHECK(c.n_layer > 0 && c.d_model > 0 && c.n_head > 0 && c.n_kv_head > 0 && c.d_ff > 0 &&
                 c.vocab_size > 0 && c.max_seq_len > 0,
             "model: n_layer, d_model, n_head, n_kv_head, d_ff, vocab_size and max_seq_len must "
             "all be positive");
  MART_CHECK(c.d_model % c.n_head == 0, "model: n_head (", c.n_head, ") must divide d_model (",
             c.d_model, ")");
  MART_CHECK(c.n_head % c.n_kv_head == 0, "model: n_kv_head (", c.n_kv_head,
             ") must divide n_head (", c.n_head, ")");
  const ModelFamilyTraits& fam = family_traits(c.family);
  if (!fam.grouped_query_attention)
    MART_CHECK(c.n_kv_head == c.n_head, "model: ", fam.display,
               " has no grouped-query attention; set n_kv_head = n_head (", c.n_head, ")");
  if (fam.positions == PositionKind::Rope)
    MART_CHECK(c.head_size() % 2 == 0, "model: ", fam.display,
               "'s RoPE needs an even head size, got ", c.head_size());
}

// GPT-2: learned positions, LayerNorm with biases, fused c_attn, GELU MLP, tied head. Conv1D
// weights are stored [in, out] in HF files (transpose_io).
void add_gpt2_params(Builder& b, ModelSpec& s, const ModelConfig& cfg) {
  const int64_t C = cfg.d_model, V = cfg.vocab_size, F = cfg.d_ff;
  s.wte = b.add("transformer.wte.weight", {V, C}, true);
  s.wpe = b.add("transformer.wpe.weight", {cfg.max_seq_len, C}, true);
  for (int l = 0; l < cfg.n_layer; ++l) {
    b.group = l + 1;
    BlockParamIds ids;
    std::string p = "transformer.h." + std::to_string(l) + ".";
    ids.norm1_w = b.add(p + "ln_1.weight", {C}, false);
    ids.norm1_b = b.add(p + "ln_1.bias", {C}, false);
    ids.qkv_w = b.add(p + "attn.c_attn.weight", {3 * C, C}, true, true);
    ids.qkv_b = b.add(p + "attn.c_attn.bias", {3 * C}, false);
    ids.attn_out_w = b.add(p + "attn.c_proj.weight", {C, C}, true, true);
    ids.attn_out_b = b.add(p + "attn.c_proj.bias", {C}, false);
    ids.norm2_w = b.add(p + "ln_2.weight", {C}, false);
    ids.norm2_b = b.add(p + "ln_2.bias", {C}, false);
    ids.fc_w = b.add(p + "mlp.c_fc.weight", {F, C}, true, true);
    ids.fc_b = b.add(p + "mlp.c_fc.bias", {F}, false);
    ids.proj_w = b.add(p + "mlp.c_proj.weight", {C, F}, true, true);
    ids.proj_b = b.add(p + "mlp.c_proj.bias", {C}, false);
    s.blocks.push_back(ids);
  }
  b.group = cfg.n_layer + 1;
  s.normf_w = b.add("transformer.ln_f.weight", {C}, false);
  s.normf_b = b.add("transformer.ln_f.bias", {C}, false);
}

// Llama: RoPE, RMSNorm, no biases, q|k|v and gate|up glued (one matmul each), GQA, optional
// untied head.
void add_llama_params(Builder& b, ModelSpec& s, const ModelConfig& cfg) {
  const int64_t C = cfg.d_model, V = cfg.vocab_size, F = cfg.d_ff, HS = cfg.head_size();
  const int64_t NH = cfg.n_head, NKV = cfg.n_kv_head;
  s.wte = b.add("model.embed_tokens.weight", {V, C}, true);
  for (int l = 0; l < cfg.n_layer; ++l) {
    b.group = l + 1;
    BlockParamIds ids;
    std::string p = "model.layers." + std::to_string(l) + ".";
    ids.norm1_w = b.add(p + "input_layernorm.weight", {C}, false);
    ids.qkv_w = b.add(p + "self_attn.q_proj.weight", {NH * HS, C}, true);
    s.params[ids.qkv_w].glued_to_next = true;
    s.params[b.add(p + "self_attn.k_proj.weight", {NKV * HS, C}, true)].glued_to_next = true;
    b.add(p + "self_attn.v_proj.weight", {NKV * HS, C}, true);
    ids.attn_out_w = b.add(p + "self_attn.o_proj.weight", {C, NH * HS}, true);
    ids.norm2_w = b.add(p + "post_attention_layernorm.weight", {C}, false);
    ids.fc_w = b.add(p + "mlp.gate_proj.weight", {F, C}, true);
    s.params[ids.fc_w].glued_to_next = true;
    b.add(p + "mlp.up_proj.weight", {F, C}, true);
    ids.proj_w = b.add(p + "mlp.down_proj.weight", {C, F}, true);
    s.blocks.push_back(ids);
  }
  b.group = cfg.n_layer + 1;
  s.normf_w = b.add("model.norm.weight", {C}, false);
  if (!cfg.tied_embeddings) s.lm_head = b.add("lm_head.weight", {V, C}, true);
}

}  // namespace

ModelSpec build_model_spec(const ModelConfig& cfg) {
  check_config(cfg);
  ModelSpec s;
  s.cfg = cfg;
  if (family_traits(cfg.family).always_tied) s.cfg.tied_embeddings = true;
  Builder b{s};
  // The parameters in execution order, with the family's Hugging Face names.
  switch (cfg.family) {
    case ModelFamily::GPT2:
      add_gpt2_params(b, s, s.cfg);
      break;
    case ModelFamily::Llama:
      add_llama_params(b, s, s.cfg);
      break;
  }
  return s;
}

BlockActLayout ModelSpec::block_layout(int B, int T) const {
  const uint64_t N = static_cast<uint64_t>(B) * T, C = cfg.d_model, F = cfg.d_ff;
  const uint64_t QKV = cfg.qkv_width(), A = static_cast<uint64_t>(cfg.n_head) * cfg.head_size();
  const ModelFamilyTraits& fam = family_traits(cfg.family);
  const bool mean = fam.norm == NormKind::LayerNorm;  // RMSNorm keeps no mean
  BlockActLayout L;
  uint64_t o = 0;
  auto put = [&](uint64_t& field, uint64_t elems) {
    field = o;
    o += elems;
  };
  put(L.x_in, N * C);
  L.x_in_elems = N * C;
  put(L.ln1, N * C);
  put(L.qkv, N * QKV);  // GPT-2: qkv; Llama: qkv after RoPE
  put(L.atty, N * A);
  put(L.res2, N * C);
  put(L.ln2, N * C);
  put(L.fc, N * mlp_in_factor(fam.mlp) * F);  // GELU: pre-GELU; SwiGLU: [gate | up]
  put(L.fc_act, N * F);                       // GELU(fc) or SwiGLU(gate, up)
  L.act_elems = o;
  uint64_t so = 0;
  auto sput = [&](uint64_t& field, uint64_t elems) {
    field = so;
    so += elems;
  };
  if (mean) sput(L.ln1_mean, N);
  sput(L.ln1_rstd, N);
  sput(L.lse, static_cast<uint64_t>(B) * cfg.n_head * T);
  if (mean) sput(L.ln2_mean, N);
  sput(L.ln2_rstd, N);
  L.stat_elems = so;
  return L;
}

uint64_t ModelSpec::block_act_bytes(int B, int T, size_t act_size, size_t stat_size) const {
  auto L = block_layout(B, T);
  return L.act_elems * act_size + L.stat_elems * stat_size;
}

int ModelSpec::find(const std::string& name) const {
  for (size_t i = 0; i < params.size(); ++i)
    if (params[i].name == name) return static_cast<int>(i);
  return -1;
}

double flops_per_token(const ModelSpec& spec, int T) {
  const auto& c = spec.cfg;
  // llm.c's 6N counts every parameter; in GPT-2 every table but wpe is a matmul weight (wte is
  // also the head). An untied input embedding (Llama) is only a lookup: counting it would inflate
  // MFU by up to ~20% on small Llamas with large vocabularies (Llama-1B: 263M of 1.5B params).
  const double lookup_only =
      spec.lm_head >= 0 && spec.wte >= 0 ? static_cast<double>(spec.params[spec.wte].numel) : 0.0;
  return 6.0 * (static_cast<double>(spec.n_params) - lookup_only) +
         6.0 * c.n_layer * static_cast<double>(c.d_model) * T;
}

}  // namespace mart
