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
  uint64_t total() const { return model_states + block_inputs + activations + head + scratch + io; }
  std::string describe() const;
};

uint64_t resident_state_bytes(const ModelSpec& spec, DType act);
// `compress` must be the budget the executor gets (ExecutorOptions::activations.budget).
DeviceBudget device_budget(const ModelSpec& spec, const Ops& ops, int B, int T,
                           const std::vector<ActMode>& modes, uint64_t model_state_bytes,
                           const CompressBudget& compress = {});

}  // namespace mart
