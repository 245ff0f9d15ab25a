// Everything the Trainer builds for one resident configuration, built the same way: the arena's
// capacity is exactly the predicted device budget (so any allocation beyond the prediction
// throws), a pinned host allocator for swapped activations (pinning off: tests need no locked
// memory), the executor with the given block modes and activation options, and initialised
// weights. Shared by the integration and activation-mode tests.
#pragma once
#include <memory>
#include <utility>
#include <vector>

#include "memory/activation_manager.h"
#include "memory/device_arena.h"
#include "memory/host_allocator.h"
#include "runtime/backend.h"
#include "device/device.h"
#include "runtime/executor.h"
#include "runtime/memory_budget.h"
#include "runtime/model/init.h"
#include "runtime/model/model_spec.h"
#include "runtime/model/model_states.h"

namespace mart::testutil {

// Members are declared in construction order; they are destroyed in reverse (executor first).
struct ExecutorRig {
  std::unique_ptr<Device> dev;
  std::unique_ptr<Ops> ops;
  ModelSpec spec;
  std::vector<ActMode> modes;  // empty at construction: every block kept
  DeviceBudget budget;
  std::unique_ptr<DeviceArena> arena;
  std::unique_ptr<HostAllocator> host;
  std::unique_ptr<ModelStates> states;
  std::unique_ptr<Executor> exec;
  int B, T;

  ExecutorRig(const ModelConfig& m, int B_, int T_, std::vector<ActMode> modes_ = {},
              const ActivationOptions& ao = {}, uint64_t seed = 42)
      : modes(std::move(modes_)), B(B_), T(T_) {
    if (modes.empty()) modes.assign(m.n_layer, ActMode::Keep);
    dev = make_cpu_device();
    ops = make_ops(*dev);
    spec = build_model_spec(m);
    budget = device_budget(spec, *ops, B, T, modes, resident_state_bytes(spec, ops->act_dtype()),
                           ao.budget);
    arena = std::make_unique<DeviceArena>(dev.get(), budget.total());
    HostAllocatorOptions ho;
    ho.pin = PinMode::kOff;
    host = std::make_unique<HostAllocator>(NumaTopology::load_this_system(), ho);
    states = make_resident_states(spec, *dev, *ops, *arena);
    ExecutorOptions eo;
    eo.micro_batch = B;
    eo.seq_len = T;
    eo.block_modes = modes;
    eo.host = host.get();
    eo.activations = ao;
    exec = std::make_unique<Executor>(spec, *dev, *ops, *arena, *states, eo);
    for (size_t i = 0; i < spec.params.size(); ++i) {
      auto v = init_param(spec, static_cast<int>(i), seed);
      states->write_param(static_cast<int>(i), v.data());
    }
  }
  ~ExecutorRig() {
    exec.reset();  // regions are freed in reverse order of allocation
    states.reset();
  }
  ExecutorRig(const ExecutorRig&) = delete;
  ExecutorRig& operator=(const ExecutorRig&) = delete;

  const ActivationManager& acts() const { return exec->activations(); }
  std::vector<float> param(int id) {
    std::vector<float> v(spec.params[id].numel);
    states->read_param(id, v.data());
    return v;
  }
  std::vector<float> grad(int id) {
    std::vector<float> v(spec.params[id].numel);
    states->read_grad(id, v.data());
    return v;
  }
};

}  // namespace mart::testutil
