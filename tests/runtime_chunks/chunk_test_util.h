// Shared helpers for the chunk pipeline tests: small models of both families that pack into
// several chunks, a rig that builds device, ops, arena, host allocator, CPU Adam, model states and
// executor the way the Trainer does (resident or chunked), and a deterministic step loop whose
// losses, norms, weights and Adam states can be compared bit for bit.
#pragma once
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "memory/chunk_manager.h"
#include "kernels/cpu/cpu_adam.h"
#include "memory/device_arena.h"
#include "memory/host_allocator.h"
#include "runtime/backend.h"
#include "device/device.h"
#include "runtime/executor.h"
#include "runtime/memory_budget.h"
#include "runtime/model/init.h"
#include "runtime/model/model_spec.h"
#include "runtime/model/model_states.h"
#include "layout/chunk_layout.h"
#include "layout/chunk_memory.h"
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
  // The ChunkManager is built here (not through make_chunked_states, so without its n_buffer
  // check) and wrapped in the real adapter (wrap_chunk_manager); manager() reads it.
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

// Everything the Trainer builds for one configuration, built the same way: the arena's capacity
// is exactly the predicted budget, so any allocation beyond the prediction throws.
// Members are declared in construction order; they are destroyed in reverse (executor first).
struct ChunkRig {
  RigOptions o;
  std::unique_ptr<Device> dev;
  std::unique_ptr<Ops> ops;
  ModelSpec spec;
  std::vector<ActMode> modes;
  ChunkLayout layout;  // chunked only
  uint64_t state_bytes = 0;
  DeviceBudget budget;
  std::unique_ptr<DeviceArena> arena;
  std::unique_ptr<HostAllocator> host;
  std::unique_ptr<CpuAdam> adam;
  std::unique_ptr<ModelStates> states;
  std::unique_ptr<Executor> exec;
  ChunkManager* direct = nullptr;

  ChunkRig(const ModelConfig& m, const RigOptions& opt) : o(opt) {
    dev = make_cpu_device();
    ops = make_ops(*dev);
    spec = build_model_spec(m);
    modes = o.modes.empty() ? std::vector<ActMode>(m.n_layer, ActMode::Keep) : o.modes;
    const DType act = ops->act_dtype();
    if (o.chunked) {
      layout = layout_for(spec, o.chunk_bytes, dtype_size(act));
      state_bytes =
          ChunkManager::device_bytes(layout, o.n_persist, o.n_buffer, act, spec.params.size());
    } else {
      state_bytes = resident_state_bytes(spec, act);
    }
    budget = device_budget(spec, *ops, o.B, o.T, modes, state_bytes);
    arena = std::make_unique<DeviceArena>(dev.get(), budget.total());
    if (o.chunked) {
      HostAllocatorOptions ho;
      ho.pin = PinMode::kOff;
      ho.slab_bytes = 8ull << 20;  // small: a test rig holds a few MB of host state
      ho.dedicated_threshold = 1ull << 20;
      host = std::make_unique<HostAllocator>(NumaTopology::load_this_system(), ho);
      adam = std::make_unique<CpuAdam>(CpuAdamOptions{});
      if (o.direct_manager) {
        std::vector<ChunkTensor> tensors;
        for (auto& p : spec.params) tensors.push_back({p.numel, p.group, p.decay});
        ChunkManagerOptions co;
        co.n_persist = o.n_persist;
        co.n_buffer = o.n_buffer;
        co.use_sequence = executor_use_sequence(spec);
        co.trace_copies = o.trace_copies;
        auto cm = std::make_unique<ChunkManager>(*dev, *ops, *arena, *host, *adam, layout,
                                                 std::move(tensors), co);
        states = wrap_chunk_manager(spec, std::move(cm));
        direct = chunk_manager_of(*states);
      } else {
        ChunkedStatesOptions co;
        co.n_persist = o.n_persist;
        co.n_buffer = o.n_buffer;
        co.chunk_elems = layout.chunk_elems;
        co.trace_copies = o.trace_copies;
        states = make_chunked_states(spec, *dev, *ops, *arena, *host, *adam, co);
      }
    } else {
      states = make_resident_states(spec, *dev, *ops, *arena);
    }
    if (o.wrap_states) states = o.wrap_states(std::move(states));
    ExecutorOptions eo;
    eo.micro_batch = o.B;
    eo.seq_len = o.T;
    eo.block_modes = modes;
    exec = std::make_unique<Executor>(spec, *dev, *ops, *arena, *states, eo);
    for (size_t i = 0; i < spec.params.size(); ++i) {
      auto v = init_param(spec, static_cast<int>(i), o.seed);
      states->write_param(static_cast<int>(i), v.data());
    }
  }
  ~ChunkRig() {
    exec.reset();  // regions are freed in reverse order of allocation
    states.reset();
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
