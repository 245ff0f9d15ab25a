// Shared helpers for the chunk pipeline tests: small models of both families that pack into
// several chunks, a rig whose Session builds device, ops, arena, host allocator, CPU Adam, model
// states and executor the way the Trainer does (resident or chunked), and a deterministic step loop
// whose losses, norms, weights and Adam states can be compared bit for bit.
#pragma once
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "device/device.h"
#include "kernels/cpu/cpu_adam.h"
#include "layout/chunk_layout.h"
#include "layout/chunk_memory.h"
#include "memory/chunk_manager.h"
#include "memory/device_arena.h"
#include "memory/host_allocator.h"
#include "runtime/executor.h"
#include "runtime/memory_budget.h"
#include "runtime/model/model_spec.h"
#include "runtime/model/model_states.h"
#include "runtime/session.h"
#include "tests/common/session_job.h"
#include "tests/common/test_util.h"

namespace mart::chunks {

inline const char* family_tag(ModelFamily f) {
  return f == ModelFamily::GPT2 ? "gpt2" : "llama";
}

// Three blocks of width 64: about 0.1M parameters, a step takes a few milliseconds. Llama uses
// grouped-query attention (4 query heads, 2 kv heads), so its glued q|k|v run is not square.
// With 64 KiB chunks (16384 fp32 elements) every block spans two or three chunks, the largest
// glued run (Llama gate|up, 2*128*64) fills a chunk exactly and GPT-2's c_fc does too.
inline ModelConfig small_model(ModelFamily f, int n_layer = 3, int d_model = 64) {
  ModelConfig m;
  m.family = f;
  m.n_layer = n_layer;
  m.d_model = d_model;
  m.n_head = 4;
  m.n_kv_head = f == ModelFamily::GPT2 ? 4 : 2;
  m.d_ff = f == ModelFamily::GPT2 ? 4 * d_model : 2 * d_model;
  m.vocab_size = 64;
  m.max_seq_len = 64;
  m.tied_embeddings = f == ModelFamily::GPT2;
  return m;
}

constexpr uint64_t kSmallChunkBytes = 64 << 10;

struct RigOptions {
  bool chunked = false;
  int n_persist = -1;
  int n_buffer = 2;
  uint64_t chunk_bytes = kSmallChunkBytes;
  bool trace_copies = false;
  // No n_buffer check in front of the chunk manager (SessionOptions::check_chunk_buffers off), so
  // the manager's own guards are reached; manager() reads it.
  bool direct_manager = false;
  int B = 2, T = 16;
  std::vector<ActMode> modes;  // empty: keep every block
  uint64_t seed = 42;
  // Wraps the model states before the executor is built on them (e.g. to time each group).
  std::function<std::unique_ptr<ModelStates>(std::unique_ptr<ModelStates>)> wrap_states;
};

inline ChunkLayout layout_for(const ModelSpec& spec, uint64_t chunk_bytes, size_t act_size = 4) {
  return layout_chunks(chunk_tensor_sizes(spec), chunk_bytes / act_size, chunk_tensor_glue(spec));
}

// Everything the Trainer builds for one configuration, built by a Session (runtime/session.h) the
// same way: the arena's capacity is exactly the predicted budget, so any allocation beyond the
// prediction throws. The members below are views of the Session's pieces.
inline JobConfig chunk_rig_job(const ModelConfig& m, const RigOptions& o) {
  const std::vector<ActMode> modes =
      o.modes.empty() ? std::vector<ActMode>(m.n_layer, ActMode::Keep) : o.modes;
  JobConfig c = testutil::rig_job(m, o.B, o.T, modes);
  if (o.chunked) {
    c.memory.mode = "manual";
    c.memory.n_persist = o.n_persist;
    c.memory.n_buffer = o.n_buffer;
    c.memory.chunk_size = o.chunk_bytes;
  }
  return c;
}

inline SessionOptions chunk_rig_options(const RigOptions& o) {
  SessionOptions so;
  so.host.pin = PinMode::kOff;
  so.host.slab_bytes = 8ull << 20;  // small: a test rig holds a few MB of host state
  so.host.dedicated_threshold = 1ull << 20;
  so.cpu_adam = CpuAdamOptions{};  // unbound workers (results do not depend on them)
  so.trace_copies = o.trace_copies;
  so.check_chunk_buffers = !o.direct_manager;
  return so;
}

struct ChunkRig {
  RigOptions o;
  ChunkManager* direct = nullptr;  // direct_manager: the manager, seen before any wrap_states
  std::unique_ptr<Session> session;
  Device* dev;
  Ops* ops;
  const ModelSpec& spec;
  const std::vector<ActMode>& modes;
  const DeviceBudget& budget;
  DeviceArena* arena;
  HostAllocator* host;  // chunked (or swapping) only
  ModelStates* states;
  Executor* exec;

  ChunkRig(const ModelConfig& m, const RigOptions& opt)
      : o(opt),
        session(make_session(m)),
        dev(&session->device()),
        ops(&session->ops()),
        spec(session->spec()),
        modes(session->block_modes()),
        budget(session->budget()),
        arena(&session->arena()),
        host(session->host()),
        states(&session->states()),
        exec(&session->executor()) {
    session->init_weights(o.seed);
  }
  ChunkRig(const ChunkRig&) = delete;
  ChunkRig& operator=(const ChunkRig&) = delete;
  std::unique_ptr<Session> make_session(const ModelConfig& m) {
    SessionOptions so = chunk_rig_options(o);
    so.wrap_states = [this](std::unique_ptr<ModelStates> s) {
      if (o.direct_manager) direct = chunk_manager_of(*s);
      return o.wrap_states ? o.wrap_states(std::move(s)) : std::move(s);
    };
    return std::make_unique<Session>(chunk_rig_job(m, o), std::move(so));
  }
  ChunkManager& manager() {
    EXPECT_NE(direct, nullptr) << "RigOptions::direct_manager is needed for manager()";
    return *direct;
  }
};

// A deterministic micro-batch: pseudo-random inputs (an LCG) and targets that are a fixed function
// of the input token, so a few steps visibly lower the loss.
inline MicroBatch random_batch(int B, int T, int vocab, uint64_t seed) {
  MicroBatch mb;
  mb.inputs.resize(static_cast<size_t>(B) * T);
  mb.targets.resize(mb.inputs.size());
  uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
  auto next = [&] {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<int32_t>((s >> 33) % static_cast<uint64_t>(vocab));
  };
  for (size_t i = 0; i < mb.inputs.size(); ++i) {
    mb.inputs[i] = next();
    mb.targets[i] = (mb.inputs[i] * 5 + 1) % vocab;
  }
  return mb;
}

struct RunOptions {
  int steps = 20;
  int grad_accum = 1;
  float grad_clip = 0;  // 0: off (offloaded chunks then update on the CPU during backward)
  float lr = 1e-2f;     // large enough that every step visibly moves the weights
  float weight_decay = 0.1f;
};

// What a run produced: per-step losses and norms, then final weights and Adam moments.
struct RunResult {
  std::vector<double> losses;
  std::vector<float> norms;
  std::vector<std::vector<float>> params, m, v;
};

inline StepHyper hyper_at(const RunOptions& r, int step) {
  StepHyper h;
  h.lr = r.lr;
  h.weight_decay = r.weight_decay;
  h.grad_clip = r.grad_clip;
  h.step = step;
  return h;
}

inline std::vector<MicroBatch> step_batches(const ChunkRig& rig, int step, int grad_accum) {
  std::vector<MicroBatch> mbs;
  for (int i = 0; i < grad_accum; ++i)
    mbs.push_back(random_batch(rig.o.B, rig.o.T, rig.spec.cfg.vocab_size,
                               1000u * static_cast<uint64_t>(step) + i));
  return mbs;
}

inline RunResult run_steps(ChunkRig& rig, const RunOptions& r) {
  RunResult out;
  for (int s = 1; s <= r.steps; ++s) {
    StepResult sr = rig.exec->train_step(step_batches(rig, s, r.grad_accum), hyper_at(r, s));
    out.losses.push_back(sr.loss);
    out.norms.push_back(sr.grad_norm);
  }
  for (size_t i = 0; i < rig.spec.params.size(); ++i) {
    const uint64_t n = rig.spec.params[i].numel;
    std::vector<float> p(n), m(n), v(n);
    rig.states->read_param(static_cast<int>(i), p.data());
    rig.states->read_adam(static_cast<int>(i), m.data(), v.data());
    out.params.push_back(std::move(p));
    out.m.push_back(std::move(m));
    out.v.push_back(std::move(v));
  }
  return out;
}

// Bitwise equality of float vectors (distinguishes -0/+0 and NaN payloads, unlike ==).
inline bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Names the first tensor whose weights or Adam moments differ between two runs.
inline ::testing::AssertionResult same_states(const ModelSpec& spec, const RunResult& a,
                                              const RunResult& b) {
  for (size_t i = 0; i < spec.params.size(); ++i) {
    const char* what = !bitwise_equal(a.params[i], b.params[i]) ? "weights"
                       : !bitwise_equal(a.m[i], b.m[i])         ? "Adam m"
                       : !bitwise_equal(a.v[i], b.v[i])         ? "Adam v"
                                                                : nullptr;
    if (what)
      return ::testing::AssertionFailure() << what << " of " << spec.params[i].name << " differ";
  }
  return ::testing::AssertionSuccess();
}

using testutil::error_of;
using testutil::has;

inline double steady_now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace mart::chunks
