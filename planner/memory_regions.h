// One plan's memory as named regions, each the planner's exact figure (the layout/ formulas the
// runtime allocates with), for drawing (`mart plan --html`'s stacked bars):
//   device    the arena's regions: resident chunks (parameters + gradients, and their Adam m, v
//             and fp32 master), chunk buffers, the per-tensor gradient norms, the executor's io,
//             block inputs, head and scratch, and activations by mode (kept bodies, the
//             recompute scratch, swap staging slots, compressed regions, the codec scratch,
//             compress_swap staging slots); they sum to MemoryPrediction::device, the arena peak
//   pinned    offloaded chunks' fp32 master, m and v, their gradient landing (and the act-dtype
//             upload copy when act is not fp32), swapped bodies, compress_swap encodings; they
//             sum to MemoryPrediction::pinned_host
//   pageable  the rest of MemoryPrediction::host: the arena itself when the device is the host
//             (CPU backend), else nothing
// Regions of zero bytes are left out.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "planner/cost_model.h"

namespace mart {

enum class MemoryPool : uint8_t { Device, Pinned, Pageable };

struct MemoryRegion {
  MemoryPool pool = MemoryPool::Device;
  std::string name;   // stable id, e.g. "chunk_buffers" (the page's data-name)
  std::string label;  // what a person reads, e.g. "chunk buffers (3 x 48.00 MiB)"
  uint64_t bytes = 0;
};

struct PlanMemory {
  MemoryPrediction predicted;  // predict_memory's figures the regions add up to
  std::vector<MemoryRegion> regions;
  uint64_t sum(MemoryPool pool) const;
};

// Throws mart::Error (a planner bug) when the regions do not add up to predict_memory's totals.
PlanMemory plan_memory_regions(const Profile& p, const PlanChoice& plan, const CostOptions& opt);

}  // namespace mart
