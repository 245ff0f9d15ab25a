// One resident configuration built by a Session (runtime/session.h) exactly as the Trainer builds
// it: the arena's capacity is exactly the predicted device budget (so any allocation beyond the
// prediction throws), a pinned host allocator when a block swaps (pinning off: tests need no
// locked memory), the executor with the given block modes and activation options, and
// initialised weights. The members below are views of the Session's pieces, under the names the
// tests use. Shared by the integration and activation-mode tests.
#pragma once
#include <memory>
#include <utility>
#include <vector>

#include "device/device.h"
#include "memory/activation_manager.h"
#include "memory/device_arena.h"
#include "memory/host_allocator.h"
#include "runtime/executor.h"
#include "runtime/memory_budget.h"
#include "runtime/model/model_spec.h"
#include "runtime/model/model_states.h"
#include "runtime/session.h"
#include "tests/common/session_job.h"

namespace mart::testutil {

inline SessionOptions rig_session_options(const ActivationOptions& ao) {
  SessionOptions so;
  so.activations = ao;
  so.host.pin = PinMode::kOff;
  return so;
}

inline std::vector<ActMode> keep_all_if_empty(std::vector<ActMode> modes, int n_layer) {
  if (modes.empty()) modes.assign(n_layer, ActMode::Keep);
  return modes;
}

struct ExecutorRig {
  std::unique_ptr<Session> session;
  Device* dev;
  Ops* ops;
  const ModelSpec& spec;
  const std::vector<ActMode>& modes;  // every block kept when none were given
  const DeviceBudget& budget;
  DeviceArena* arena;
  HostAllocator* host;  // nullptr when no block swaps
  ModelStates* states;
  Executor* exec;
  int B, T;

  ExecutorRig(const ModelConfig& m, int B_, int T_, std::vector<ActMode> modes_ = {},
              const ActivationOptions& ao = {}, uint64_t seed = 42)
      : session(std::make_unique<Session>(
            rig_job(m, B_, T_, keep_all_if_empty(std::move(modes_), m.n_layer)),
            rig_session_options(ao))),
        dev(&session->device()),
        ops(&session->ops()),
        spec(session->spec()),
        modes(session->block_modes()),
        budget(session->budget()),
        arena(&session->arena()),
        host(session->host()),
        states(&session->states()),
        exec(&session->executor()),
        B(B_),
        T(T_) {
    session->init_weights(seed);
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
