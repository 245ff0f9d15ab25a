// Session: the one place that builds the training stack from a JobConfig: device, ops, model spec,
// per-block activation modes, the exact device budget, the device arena, the pinned host
// allocator, the CPU AdamW pool, the model states (resident or chunked) and the executor (which
// owns the activation manager). The trainer, the measured profile, the parity tool and the test
// rigs all build their stack here, so the pieces cannot drift apart; the C API wraps it.
//
// Lifetime. A Session owns everything it builds and nothing else: a device and ops passed in
// SessionOptions are borrowed and must outlive it. Members are built in the order above and
// destroyed in reverse (executor, model states, CPU Adam, host allocator, arena, ops, device), so
// every region goes back to the arena before the arena goes, and every copy stream drains before
// the device goes. References and pointers the accessors return are valid while the Session
// lives. A Session is neither copyable nor movable (the executor holds references into it).
//
// Errors. The constructor throws mart::Error whose message names the problem and the fix (bad
// config, memory.mode auto without a planner, a plan that does not fit the device capacity,
// n_buffer too small for the chunk layout, ...). Whatever it had built by then is destroyed
// before the exception leaves (unique_ptr members), so nothing half-built leaks. After an
// operation throws (e.g. a host task failed and the device rethrew at synchronize), the Session
// can still be destroyed safely, but the model states are unspecified (a step may have updated
// some tensors and not others): reload weights (init_weights, load_hf_weights, load_checkpoint)
// before training on, or discard the Session.
//
// Threads. One thread at a time per Session: no method may be called while another runs on the
// same Session. Separate Sessions share no objects and may run on different threads at once; the
// device's copy-stream workers and the CPU Adam pool are per Session. On the CPU backend they do
// share the process-wide thread pools of OpenMP and OpenBLAS, so they compete for the same cores,
// and concurrent Sessions are correct but NOT bitwise reproducible, most likely because attention
// sets OpenBLAS's process-wide thread count to 1 around its GEMMs and restores it
// (kernels/cpu/attention.cpp): two Sessions doing so at once change each other's. Measured
// (runtime_session tests): about half of such runs differ from the same Sessions run one after
// the other in the 9th significant digit of the loss by step 3; none with OPENBLAS_NUM_THREADS=1.
// A single Session, or Sessions run one after the other, are bitwise reproducible.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/job_config.h"
#include "kernels/cpu/cpu_adam.h"
#include "memory/activation_manager.h"
#include "memory/host_allocator.h"
#include "nlohmann/json.hpp"
#include "runtime/auto_planner.h"
#include "runtime/executor.h"
#include "runtime/memory_budget.h"
#include "runtime/model/model_spec.h"
#include "runtime/model/model_states.h"

namespace mart {

class Device;
class DeviceArena;
class Ops;

// What the stack needs beyond the JobConfig. Defaults are what `mart train` uses.
struct SessionOptions {
  // memory.mode auto: profiles the job on this Session's device and rewrites the config to a plan
  // (profiler/auto_plan.h: mart::auto_plan_for_training). Required for auto, unused otherwise.
  AutoPlanner auto_planner;
  // Borrowed device and ops (both or neither; they must outlive the Session). Default: the
  // Session makes them from cfg.backend.
  Device* device = nullptr;
  Ops* ops = nullptr;
  // Replaces the activation options the config gives (eb, adaptive_eb, payload_fraction) with
  // these (tests: tracing, body hooks, the adaptive controller). act_dtype comes from the ops.
  std::optional<ActivationOptions> activations;
  // The pinned host allocator (built when a chunk is offloaded or a block swaps). default_node -1:
  // the device's NUMA node (the GPU's nearest on CUDA, the first node on the CPU backend).
  HostAllocatorOptions host;
  // The CPU AdamW pool for offloaded chunks. Default: one worker per PU of the device's node.
  std::optional<CpuAdamOptions> cpu_adam;
  // Chunked states: record every chunk copy (ChunkManager::copy_log); check that n_buffer covers
  // the layout before the manager is built (off: tests that want the manager's own error).
  bool trace_copies = false;
  bool check_chunk_buffers = true;
  // Wraps the model states before the executor is built on them (tests: time each group).
  std::function<std::unique_ptr<ModelStates>(std::unique_ptr<ModelStates>)> wrap_states;
  // false: model states only, no executor (the measured profile runs blocks itself); the arena
  // then holds the model states plus arena_headroom.
  bool executor = true;
  // Arena bytes beyond the budget for regions the caller allocates itself.
  uint64_t arena_headroom = 0;
  // Set: the budget and the arena also hold a KV cache and decoder buffers of this shape
  // (runtime/generate/decoder.h takes them); combine with executor = false for a forward-only
  // stack. max_len 0 becomes the model's max_seq_len.
  std::optional<GenerationShape> generation;
};

class Session {
 public:
  // Validates `cfg`, plans it when memory.mode is auto, and builds the stack. Throws mart::Error.
  Session(JobConfig cfg, SessionOptions opt = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // ---- operations ------------------------------------------------------------------------------
  // One optimizer step over `mbs` (gradients accumulate over the micro-batches, each [B,T]).
  // `timeline` non-null: the step's measured timeline (Executor::train_step), numerics unchanged.
  StepResult train_step(const std::vector<MicroBatch>& mbs, const StepHyper& h,
                        StepTimeline* timeline = nullptr);
  // Mean loss over the valid targets of one micro-batch, forward only.
  double eval_loss(const MicroBatch& mb);
  // Forward only; every target's loss, [micro_batch * seq_len] (0 where the target is < 0).
  void eval_token_losses(const MicroBatch& mb, std::vector<double>* losses);
  // Every parameter from init_param(spec, id, seed); Adam moments stay as they are (zero when
  // fresh). Weights from files: load_hf_weights / load_checkpoint with spec() and states().
  void init_weights(uint64_t seed);

  // ---- the pieces ------------------------------------------------------------------------------
  // The config the stack was built from: after memory.mode auto, the plan (memory.mode manual).
  const JobConfig& config() const { return cfg_; }
  Device& device() { return *dev_; }
  Ops& ops() { return *ops_; }
  const ModelSpec& spec() const { return spec_; }
  const std::vector<ActMode>& block_modes() const { return modes_; }
  const DeviceBudget& budget() const { return budget_; }
  DeviceArena& arena() { return *arena_; }
  ModelStates& states() { return *states_; }
  Executor& executor();                            // throws when built with executor = false
  HostAllocator* host() { return host_.get(); }    // nullptr: nothing offloaded or swapped
  CpuAdam* cpu_adam() { return cpu_adam_.get(); }  // nullptr: nothing offloaded
  bool chunked() const { return cfg_.memory.mode == "manual"; }
  // SessionOptions::generation as resolved (max_len filled in); nullopt when not asked for.
  const std::optional<GenerationShape>& generation() const { return opt_.generation; }
  // memory.mode auto: the planner's object (profile source, plan, predicted); null otherwise.
  const nlohmann::json& planner() const { return planner_; }

  // ---- memory figures --------------------------------------------------------------------------
  uint64_t device_budget_bytes() const { return budget_.total(); }
  std::string device_budget_describe() const { return budget_.describe(); }
  // Pinned host bytes: offloaded chunks plus swapped activations.
  uint64_t pinned_host_bytes() const { return host_bytes_; }
  // The plan the stack runs under (summary.json's "plan", mart_session_plan_json): memory_mode,
  // model_states, block_modes, micro_batch, grad_accum, device_budget_bytes, pinned_host_bytes,
  // device_budget (text), device_regions (the budget's regions in bytes).
  nlohmann::json plan_json();

 private:
  void plan_auto_memory();
  uint64_t model_state_bytes();
  void check_capacity(uint64_t need);
  void make_host_memory(bool swaps);
  void make_states();
  void make_executor();

  JobConfig cfg_;
  SessionOptions opt_;
  // Declared in construction order: destroyed in reverse.
  std::unique_ptr<Device> own_dev_;
  std::unique_ptr<Ops> own_ops_;
  Device* dev_ = nullptr;
  Ops* ops_ = nullptr;
  nlohmann::json planner_;
  ModelSpec spec_;
  std::vector<ActMode> modes_;
  ActivationOptions acts_;
  ChunkedStatesOptions chunk_opt_;
  DeviceBudget budget_;
  uint64_t host_bytes_ = 0;
  std::unique_ptr<DeviceArena> arena_;
  std::unique_ptr<HostAllocator> host_;
  std::unique_ptr<CpuAdam> cpu_adam_;
  std::unique_ptr<ModelStates> states_;
  std::unique_ptr<Executor> exec_;
};

}  // namespace mart
