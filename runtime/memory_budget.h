// Exact device-memory need of a configuration: what the arena will hold, region by region, before
// anything is allocated. The executor allocates exactly these regions, so this is the peak.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/dtype.h"
#include "memory/activation_manager.h"
#include "runtime/model/model_spec.h"

namespace mart {

class Ops;

struct DeviceBudget {
  uint64_t model_states = 0;  // params, grads, Adam m/v (+ master), grad-norm scratch
  uint64_t block_inputs = 0, activations = 0, head = 0, scratch = 0, io = 0;
  // Generation (runtime/generate/), 0 otherwise: the KV cache and the decoder's buffers.
  uint64_t kv_cache = 0, decode = 0;
  uint64_t total() const {
    return model_states + block_inputs + activations + head + scratch + io + kv_cache + decode;
  }
  std::string describe() const;
};

uint64_t resident_state_bytes(const ModelSpec& spec, DType act);
// `compress` must be the budget the executor gets (ExecutorOptions::activations.budget).
DeviceBudget device_budget(const ModelSpec& spec, const Ops& ops, int B, int T,
                           const std::vector<ActMode>& modes, uint64_t model_state_bytes,
                           const CompressBudget& compress = {});

// What a Session builds generation buffers for (SessionOptions::generation): B sequences of up to
// max_len positions (0: the model's max_seq_len), prompts run `chunk` positions at a time.
struct GenerationShape {
  int batch = 1;
  int max_len = 0;
  int chunk = 64;
};

// ---- generation -----------------------------------------------------------------------------
// The KV cache: per layer a K and a V tensor [B, n_kv_head, max_len, head_size] of `dtype`, each
// its own arena-rounded piece of one region: n_layer * 2 * arena_round(B*n_kv_head*max_len*
// head_size*dtype_size).
uint64_t kv_cache_bytes(int n_layer, int n_kv_head, int head_size, int B, int max_len, DType dtype);
// The decoder's buffers for `rows` = B * chunk positions at a time (generate/decoder_layout.h).
uint64_t decode_buffer_bytes(const ModelSpec& spec, const Ops& ops, int B, int chunk);
// Fills d.kv_cache and d.decode for generating B sequences of up to max_len positions, prompts
// processed `chunk` positions at a time.
void add_generation_budget(DeviceBudget& d, const ModelSpec& spec, const Ops& ops, int B,
                           int max_len, int chunk);

}  // namespace mart
