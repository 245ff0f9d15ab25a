// The plan search: the fastest plan that fits, over
//   micro-batch   profiled sizes dividing the global batch (grad_accum = global / micro-batch)
//   chunk size    choose_chunk_elems's grid
//   n_persist     0 .. n_chunks
//   n_buffer      min_buffers(n_persist) .. + extra_buffers
//   activations   T swapped blocks (0 .. n_layer), n_compress, n_checkpoint (rest keep), laid out
//                 as block_modes.h says. The T swapped blocks are either all swap (n_swap = T) or,
//                 when compress_swap is allowed, all compress_swap (n_compress_swap = T, n_swap
//                 = 0): both variants are priced for every T. Mixing them (a fourth free count)
//                 would multiply the points by ~n_layer for little gain: both modes go first in
//                 the layout and stream through their own kSwapStages slots.
// compress and compress_swap are lossy: only with allow_compress, a profile that supports the
// mode ("compress", "compress_swap") and a codec rate; compress_swap also needs allow_swap.
// compress_swap's copies are priced at the budget (compress_swap_host_bytes), an upper bound on
// what the runtime copies (the bytes an encoding fills; cost_model.h).
// Exhaustive with memory-ascending pruning: memory is exact and cheap (closed form), so every
// point is priced in memory first; for each (micro-batch, chunk size, n_persist, n_buffer,
// n_swap, n_compress_swap, n_compress) only the fewest checkpointed blocks that fit survive (more
// would only add recompute), and a larger n_compress survives only if it needs fewer checkpointed
// blocks than every smaller one (else it only adds encode/decode). Survivors get a lower bound on
// step time (the busiest resource's own work); they are simulated (cost_model.h): first the few
// with the best phase-by-phase estimate, then the rest in ascending bound order until the bound
// reaches the runner-ups' times (the exact plans in a first pass, then all, so allowing compression
// never costs the exact optimum) — branch and bound, so the answer is the simulator's optimum among
// the survivors (within `tolerance`) unless the work bound (max_simulations, max_sim_ops:
// counts, not time) ends it first (`exhaustive` says which).
// The tie rule: plans whose predicted time is within `prefer_simpler` (2%) of the fastest tie,
// and the simplest wins: fewer offloaded chunks, then fewer swapped or lossy blocks (swap,
// compress, compress_swap), then less memory (device + pinned host), then fewer recomputed
// blocks, fewer micro-batches, fewer buffers, a smaller chunk size. Points inside the margin that
// branch and bound pruned are simulated when they are simpler than the current choice. The best
// plan says why it won (PlanCandidate::why). When nothing fits it says why (device or host
// memory) and what would fit.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "planner/cost_model.h"

namespace mart {

struct SearchOptions {
  uint64_t device_capacity = 0;  // arena bytes; 0: hardware.device_memory
  uint64_t host_memory = 0;      // 0: hardware.host_memory
  uint64_t pinned_limit = 0;     // 0: hardware.pinned_capacity() (or host_memory when given)
  int global_batch = 0;          // sequences per optimizer step; 0: the smallest profiled size
  int fixed_micro_batch = 0;     // > 0: only this micro-batch
  bool allow_swap = true;        // where the profile supports it
  bool allow_compress = false;   // lossy (compress, compress_swap): only when the job opts in
  int extra_buffers = 2;
  int alternatives = 3;      // runner-up plans to return
  double tolerance = 0.002;  // stop when the bound is within this fraction of the best
  // The tie margin: plans whose predicted step time is within this fraction of the fastest's
  // (t <= fastest * (1 + prefer_simpler)) tie, and the simplest of them wins (see above). 2%:
  // below the accuracy of datasheet-based predictions (docs/PLANNER.md, "The tie rule"), while
  // an offloaded chunk or a swapped block costs pinned host memory and PCIe bandwidth for sure.
  double prefer_simpler = 0.02;
  int estimate_first = 24;  // simulate this many best-estimated plans before bounding
  // The work bound: the search stops after max_simulations simulations or once the simulations
  // have processed more than max_sim_ops events (~0.1-0.2 us each), whichever comes first
  // (`exhaustive` false). Counts, not a clock: the same inputs give the same plan on a busy or
  // an idle machine.
  uint64_t max_sim_ops = 3'000'000;
  int max_simulations = 4000;
  CostOptions cost;
  // Progress, for a progress line only (the plan never depends on it): called after each
  // simulation with (simulations run, the most this search may run: min(survivors,
  // max(max_simulations, estimate_first))), and once at the end with (simulations run,
  // simulations run).
  std::function<void(uint64_t done, uint64_t total)> progress;
};

struct PlanCandidate {
  PlanChoice plan;
  MemoryPrediction memory;
  TimePrediction time;
  // The best plan: why it won ("the fastest plan found", or "ties the fastest plan found (0.21%
  // faster, within the 2% tie margin) and has fewer offloaded chunks (0 vs 1)"). A runner-up
  // faster than the best: why it lost. Else "".
  std::string why;
};

struct SearchResult {
  bool fits = false;
  std::string reason;   // "" when it fits, else "device" or "host"
  std::string message;  // one paragraph: what does not fit and by how much
  std::vector<std::string> suggestions;
  PlanCandidate best;
  std::vector<PlanCandidate> alternatives;
  // Nothing fits: the plan nearest to fitting, for drawing what overflows (`mart plan --html`):
  // reason "device": the smallest device plan `message` names; "host": of the plans the device
  // holds, the one that overflows host memory least. Valid when has_closest.
  PlanChoice closest;
  bool has_closest = false;
  // Search statistics.
  uint64_t points = 0;     // plans priced in memory
  uint64_t feasible = 0;   // survivors (fit, minimal checkpointing)
  uint64_t simulated = 0;  // simulations run
  uint64_t sim_ops = 0;    // events they processed: the work the bound counts
  bool exhaustive = true;  // false: the work bound ended the search before the bound did
  uint64_t device_capacity = 0, host_memory = 0, pinned_limit = 0;  // as used
};

SearchResult search_plan(const Profile& profile, const SearchOptions& opt);

// Block modes of a plan, by name ("keep", ...), block 0 first.
std::vector<std::string> plan_block_modes(const Profile& profile, const PlanChoice& plan);
// Re-prices one plan (e.g. a manual one) with the cost model.
PlanCandidate evaluate_plan(const Profile& profile, const PlanChoice& plan, const CostOptions& opt,
                            nlohmann::json* trace = nullptr);

}  // namespace mart
