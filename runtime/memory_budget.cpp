#include "runtime/memory_budget.h"

#include <sstream>

#include "common/units.h"
#include "kernels/ops.h"
#include "memory/device_arena.h"
#include "runtime/executor.h"
#include "runtime/generate/decoder_layout.h"

namespace mart {

uint64_t resident_state_bytes(const ModelSpec& spec, DType act) {
  const uint64_t n = spec.n_params, asz = dtype_size(act);
  uint64_t b = arena_round(n * asz) * 2 + arena_round(n * 4) * 2;  // params, grads, m, v
  if (asz == 2) b += arena_round(n * 4);                           // fp32 master
  return b + arena_round(spec.params.size() * 4);                  // per-tensor grad norms
}

DeviceBudget device_budget(const ModelSpec& spec, const Ops& ops, int B, int T,
                           const std::vector<ActMode>& modes, uint64_t model_state_bytes,
                           const CompressBudget& compress) {
  const ExecutorLayout L = executor_layout(spec, ops, B, T);
  DeviceBudget d;
  d.model_states = model_state_bytes;
  d.io = L.io_bytes;
  d.block_inputs = L.inputs_bytes;
  d.activations = ActivationManager::device_bytes_needed(modes, L.body, compress, L.cuda_codec);
  d.head = L.head_bytes;
  d.scratch = L.scratch_bytes;
  return d;
}

std::string DeviceBudget::describe() const {
  std::ostringstream os;
  os << "model states " << format_bytes(model_states) << ", block inputs "
     << format_bytes(block_inputs) << ", activations " << format_bytes(activations) << ", head "
     << format_bytes(head) << ", scratch " << format_bytes(scratch + io);
  if (kv_cache + decode > 0)
    os << ", KV cache " << format_bytes(kv_cache) << ", decoder " << format_bytes(decode);
  os << " (total " << format_bytes(total()) << ")";
  return os.str();
}

uint64_t kv_cache_bytes(int n_layer, int n_kv_head, int head_size, int B, int max_len,
                        DType dtype) {
  const uint64_t one =
      static_cast<uint64_t>(B) * n_kv_head * max_len * head_size * dtype_size(dtype);
  return static_cast<uint64_t>(n_layer) * 2 * arena_round(one);
}

uint64_t decode_buffer_bytes(const ModelSpec& spec, const Ops& ops, int B, int chunk) {
  return decoder_layout(spec, ops, B, chunk).bytes;
}

void add_generation_budget(DeviceBudget& d, const ModelSpec& spec, const Ops& ops, int B,
                           int max_len, int chunk) {
  const auto& c = spec.cfg;
  d.kv_cache = kv_cache_bytes(c.n_layer, c.n_kv_head, c.head_size(), B, max_len, ops.act_dtype());
  d.decode = decode_buffer_bytes(spec, ops, B, chunk);
}

}  // namespace mart
