// Cost model: what one plan costs in memory (exactly) and in time (simulated).
//
// Memory is not estimated: it is the sum of the pure formulas the runtime allocates with —
// chunk_state_device_bytes (model states), the executor's regions from the profile (executor_
// layout), activation_memory (block bodies) — so the predicted device peak is the arena's peak
// to the byte. Pinned host memory is chunk_state_host_bytes plus swap space.
//
// Time is a discrete-event simulation (event_sim.h) of the real schedule: the executor's order
// (forward groups, head, backward groups, per micro-batch, then the optimizer step), the chunk
// manager's policy replayed decision by decision (n_buffer buffers, Belady eviction, lookahead
// prefetch into free buffers, buffer reuse by backward, gradient offload when a chunk's last
// backward use is released, gradient re-upload for accumulation, CPU updates in forward order
// after the global norm with clipping or from the offload stream during backward without,
// next-step uploads waiting for their chunk's update), and the activation manager's (swap-out
// after a block's forward, swap-in of the block kSwapStages earlier after a swapped block's
// backward, recompute before a checkpointed block's backward, encode/decode for compress, and for
// compress_swap encode, swap-out of the encoding, decode, then the swap-in kSwapStages earlier).
// compress_swap's copies are priced at the budget (compress_swap_host_bytes: the most an encoding
// may fill), an upper bound: the runtime copies only the bytes the encoding fills, which depend on
// the data; an encoding over budget is recomputed instead and not copied.
// Several steps are simulated and the last one is reported, so the CPU-update tail a step leaves
// for the next one is in the steady state the trainer measures.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "layout/activation_memory.h"
#include "nlohmann/json_fwd.hpp"
#include "planner/event_sim.h"
#include "planner/plan_layout.h"
#include "planner/profile.h"

namespace mart {

// One point of the search space.
struct PlanChoice {
  int micro_batch = 1, grad_accum = 1;
  uint64_t chunk_elems = 0;
  int n_persist = 0, n_buffer = 0;  // n_persist == n_chunks: everything on the device
  ModeCounts blocks;  // blocks per activation mode, laid out by block_modes_from_counts
};

struct CostOptions {
  bool grad_clip = true;    // train.grad_clip > 0
  CompressBudget compress;  // payload_fraction from activations.payload_fraction (plan_job.cpp)
  // Simulated optimizer steps; the last is reported. The second is already the steady state (the
  // only state a step leaves to the next is the CPU-update tail; a test checks 2 == 5).
  int steps = 2;
};

struct MemoryPrediction {
  uint64_t model_states = 0, io = 0, block_inputs = 0, activations = 0, head = 0, scratch = 0;
  uint64_t device = 0;       // arena peak: the sum of the six above
  uint64_t chunk_host = 0;   // pinned: offloaded chunks
  uint64_t swap_host = 0;    // pinned: swapped bodies and compress_swap encodings
  uint64_t pinned_host = 0;  // chunk_host + swap_host
  uint64_t host = 0;         // pinned_host, plus the arena itself when the device is the host
};

struct TimePrediction {
  double iteration_s = 0;  // one optimizer step, steady state
  double tokens_per_s = 0, mfu = 0;
  double busy_s[kResources] = {};  // per resource, within the reported step
  std::string binding;             // compute | h2d | d2h | cpu_adam
  std::string why;                 // one sentence
  uint64_t uploads = 0, upload_bytes = 0, offloads = 0, offload_bytes = 0;  // per step
  // Both ways, swap and compress_swap (the latter at its budget: an upper bound).
  uint64_t swap_bytes = 0;
};

// Everything the cost model derives from (profile, micro-batch, chunk size) once, so a search
// can price many plans that share them.
struct CostContext {
  CostContext(const Profile& p, int micro_batch, uint64_t chunk_elems);
  const Profile& profile;
  const MicroBatchProfile& mb;
  ModelChunks chunks;
  std::vector<std::pair<int, bool>> order;  // executor_acquire_order
  // next_use[c * n + pos]: distance from position pos to chunk c's next use in the cyclic
  // acquisition order (the chunk manager's next_use), kNever when never.
  std::vector<int> next_use;
  ActBody body;
  int n_layer() const { return profile.model.n_layer; }
};

MemoryPrediction predict_memory(const CostContext& ctx, const PlanChoice& plan,
                                const CostOptions& opt);
// Device and pinned host bytes of the activations alone, from counts: activation_memory() of
// block_modes_from_counts(...) without building per-block vectors (the search calls it a lot; a
// test checks the two agree). The codec workspace comes from the profile.
struct ActBytes {
  uint64_t device = 0, host = 0;
};
ActBytes activation_bytes(const CostContext& ctx, const ModeCounts& blocks,
                          const CompressBudget& c);
// The compress budget with the profile's codec workspace filled in.
CompressBudget compress_budget(const CostContext& ctx, const CompressBudget& c);

// The reported (last) simulated step: [t0, t1] in the simulation's seconds.
struct StepWindow {
  double t0 = 0, t1 = 0;
};

// Simulates `opt.steps` steps. `sim` is scratch space (reuse it across calls); `trace`, when
// given, receives Chrome trace events of every simulated step; `window`, when given, the reported
// step's bounds in `sim` (planner/sim_timeline.h draws that step from it).
TimePrediction predict_time(const CostContext& ctx, const PlanChoice& plan, const CostOptions& opt,
                            EventSim& sim, nlohmann::json* trace = nullptr,
                            StepWindow* window = nullptr);

}  // namespace mart
