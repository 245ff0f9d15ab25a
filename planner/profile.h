// The planner's input: a versioned profile ("mart_profile_version": 1) holding everything the
// cost model and the search need, as pure data. Two producers write it (profiler/):
//   analytic  FLOPs and bytes per block from the model, turned into times with a hardware
//             description's datasheet figures (no device needed);
//   measured  `mart profile`: one short run on the real device/backend.
// Memory figures are exact either way: the producer computes them with the runtime's own layout
// functions (executor_layout, block bodies), so the planner never re-derives the runtime's sizes.
//
// JSON layout (all sizes in bytes, times in seconds, rates per second):
//   { "mart_profile_version": 1, "source": "analytic" | "measured",
//     "model":    { name, family, n_layer, seq_len, d_model, n_head, vocab, n_params,
//                   flops_per_token, act_bytes, tied_head,
//                   tensors: { numel: [...], glue: [...], group: [...] } },   // execution order
//     "micro_batches": [ { micro_batch, io_bytes, inputs_bytes, head_bytes, scratch_bytes,
//                   body_bytes, body_act_values, body_stat_bytes, codec_workspace_bytes,
//                   block_forward_s, block_backward_s, block_recompute_s,
//                   embedding_forward_s, embedding_backward_s, head_s,
//                   act_mode_bytes: { keep: {device, host}, ... } }, ... ],
//     "act_modes": ["keep", "checkpoint", ...],          // modes the runtime can run
//     "hardware": { the fields of planner/hardware_schema.cpp's table, in SI units } }
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nlohmann/json_fwd.hpp"

namespace mart {

constexpr int kProfileVersion = 1;

// One field per row of the schema table (planner/hardware_schema.cpp): keep the two in step.
// The defaults below are only the value-initialised state; a reader applies the schema's.
struct HardwareProfile {
  std::string name;
  bool estimated = true;                          // datasheet figures, not measured on this machine
  std::string backend = "cuda";                   // "cuda" (bf16 activations) | "cpu" (fp32)
  uint64_t device_memory = 0;                     // bytes
  uint64_t host_memory = 0;                       // bytes of host RAM
  uint64_t pinned_limit = 0;                      // bytes that may be pinned; 0 = host_memory
  double h2d_bps = 0, d2h_bps = 0;                // each direction alone
  double h2d_duplex_bps = 0, d2h_duplex_bps = 0;  // each direction while the other also runs
  double cpu_adam_elems_per_s = 0;                // CpuAdam over offloaded chunks
  double device_adam_elems_per_s = 0;             // Ops::adamw_update on the device
  double matmul_flops = 0;                        // achieved by the matmul kernels (FLOP/s)
  double attention_flops = 0;                     // achieved by fused causal attention (FLOP/s)
  double peak_flops = 0;                          // datasheet dense peak in the act dtype, for MFU
  double mem_bw_bps = 0;  // device memory bandwidth (elementwise kernels, memsets)
  double codec_bps = 0;   // activation codec, input bytes per second (encode or decode)
  // CPU backend: compute, the copy streams and CPU Adam run on the same host cores. When compute
  // and CPU Adam are busy at once each progresses at host_overlap_rate of its own speed.
  bool compute_on_host = false;
  double host_overlap_rate = 1.0;

  size_t act_bytes() const { return backend == "cpu" ? 4 : 2; }
  uint64_t pinned_capacity() const { return pinned_limit ? pinned_limit : host_memory; }
};

struct ModelProfile {
  std::string name, family;  // family: "gpt2" | "llama"
  int n_layer = 0, seq_len = 0, d_model = 0, n_head = 0, vocab = 0;
  uint64_t n_params = 0;
  double flops_per_token = 0;  // llm.c's MFU convention: 6N + 6*L*C*T
  int act_bytes = 2;
  bool tied_head = false;  // the head reuses group 0's embedding (GPT-2)
  // Parameter tensors in execution order, as the chunk layout takes them.
  std::vector<uint64_t> tensor_numel;
  std::vector<bool> tensor_glue;
  std::vector<int> tensor_group;  // 0 embeddings, 1..n_layer blocks, n_layer+1 head

  int n_groups() const { return n_layer + 2; }
  int head_group() const { return n_layer + 1; }
};

// Device and host bytes one block's activations take under a mode, from the activation
// manager's own accounting (measured profiles; informational, the planner uses the formulas).
struct ActModeBytes {
  uint64_t device = 0, host = 0;
};

struct MicroBatchProfile {
  int micro_batch = 1;
  // Executor regions (executor_layout) and one block's activation body (ActBody: act-dtype
  // values, then fp32 statistics; body_bytes = act_values * act_bytes + stat_bytes).
  uint64_t io_bytes = 0, inputs_bytes = 0, head_bytes = 0, scratch_bytes = 0, body_bytes = 0;
  uint64_t body_act_values = 0, body_stat_bytes = 0;
  uint64_t codec_workspace_bytes = 0;  // the backend encoder's device scratch (compress)
  // Per transformer block (all blocks have the same shapes).
  double block_forward_s = 0, block_backward_s = 0;
  double block_recompute_s = 0;  // the forward a checkpointed block re-runs (no output projection)
  double embedding_forward_s = 0, embedding_backward_s = 0;
  double head_s = 0;  // final norm + classifier forward and backward
  std::map<std::string, ActModeBytes> act_mode_bytes;
};

struct Profile {
  std::string source = "analytic";
  ModelProfile model;
  std::vector<MicroBatchProfile> micro_batches;  // ascending micro_batch
  std::vector<std::string> act_modes = {"keep", "checkpoint"};
  HardwareProfile hardware;

  const MicroBatchProfile* find(int micro_batch) const;  // nullptr when absent
  bool supports(const std::string& act_mode) const;
};

nlohmann::json to_json(const HardwareProfile& h);
nlohmann::json to_json(const Profile& p);
// Throw mart::Error naming the missing or mistyped key (and the version when it is not 1).
HardwareProfile hardware_from_json(const nlohmann::json& j);
Profile profile_from_json(const nlohmann::json& j);

void save_profile(const Profile& p, const std::string& path);
Profile load_profile(const std::string& path);
// True when `path` holds a JSON object with "mart_profile_version".
bool is_profile_file(const std::string& path);

}  // namespace mart
