// The model as data: every parameter tensor (Hugging Face name, shape, place in execution order)
// and every saved activation of a block, for the two families. Both the executor and the planner
// read this; nothing here touches memory.
//
// Internal weight layout is nn.Linear's [out, in] for both families (y = x W^T + b). GPT-2's
// Hugging Face Conv1D weights are [in, out]; `transpose_io` marks them, and checkpoint I/O
// transposes them on the way in and out.
//
// Execution order (the order parameters are first used in forward, which is how chunks pack):
//   group 0          : token embedding (+ GPT-2 position embedding)
//   group 1..L       : transformer blocks
//   group L+1        : final norm (+ Llama's untied lm_head). GPT-2's head reuses wte (group 0).
// Llama's q,k,v weights are adjacent, so together they are one [(NH+2NKV)*HS, C] matrix; gate and
// up are adjacent, one [2F, C] matrix. The model relies on that adjacency.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "config/job_config.h"

namespace mart {

struct ParamInfo {
  std::string name;            // Hugging Face name, e.g. "model.layers.3.self_attn.q_proj.weight"
  std::vector<int64_t> shape;  // internal layout
  uint64_t offset = 0;         // elements from the start of the flat parameter space
  uint64_t numel = 0;
  int group = 0;               // 0 embeddings, 1..L blocks, L+1 head
  bool decay = false;          // weight decay applies (2-D weights)
  bool transpose_io = false;   // stored transposed in HF files (GPT-2 Conv1D)
  bool glued_to_next = false;  // the next tensor must follow it directly (fused q|k|v, gate|up)
};

// Indices into ModelSpec::params for one block, in the order listed below.
struct BlockParamIds {
  int norm1_w = -1, norm1_b = -1;  // ln_1 / input_layernorm (bias: GPT-2 only)
  int qkv_w = -1, qkv_b = -1;      // c_attn (GPT-2) or q_proj (Llama; k_proj, v_proj follow)
  int attn_out_w = -1, attn_out_b = -1;
  int norm2_w = -1, norm2_b = -1;
  int fc_w = -1, fc_b = -1;      // c_fc (GPT-2) or gate_proj (Llama; up_proj follows)
  int proj_w = -1, proj_b = -1;  // mlp.c_proj / down_proj
};

// Offsets (in act elements) of each saved tensor inside one block's activation region, and of
// the fp32 statistics inside its stats region. Tensors absent in a family have size 0.
struct BlockActLayout {
  // act-dtype tensors, [N, width] each
  uint64_t x_in = 0, ln1 = 0, qkv = 0, atty = 0, res2 = 0, ln2 = 0, fc = 0, fc_act = 0;
  uint64_t act_elems = 0;  // total act elements
  // fp32 statistics
  uint64_t ln1_mean = 0, ln1_rstd = 0, lse = 0, ln2_mean = 0, ln2_rstd = 0;
  uint64_t stat_elems = 0;
  uint64_t x_in_elems = 0;  // the part a checkpointed block keeps
};

struct ModelSpec {
  ModelConfig cfg;
  std::vector<ParamInfo> params;
  std::vector<BlockParamIds> blocks;
  int wte = -1, wpe = -1, normf_w = -1, normf_b = -1, lm_head = -1;
  uint64_t n_params = 0;

  int n_groups() const { return cfg.n_layer + 2; }
  int head_group() const { return cfg.n_layer + 1; }
  // The output head weight: wte when tied.
  int head_weight() const { return lm_head >= 0 ? lm_head : wte; }
  BlockActLayout block_layout(int B, int T) const;
  // Bytes of one block's saved activations with act elements of `act_size` bytes (+ fp32 stats).
  uint64_t block_act_bytes(int B, int T, size_t act_size, size_t stat_size = 4) const;
  int find(const std::string& hf_name) const;  // -1 when absent
};

// Builds the spec; validates the config (throws mart::Error naming the bad field).
ModelSpec build_model_spec(const ModelConfig& cfg);

// Model FLOPs per token (llm.c's MFU convention: 6N + 6*L*C*T), for throughput reports.
double flops_per_token(const ModelSpec& spec, int T);

}  // namespace mart
