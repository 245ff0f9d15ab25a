// The runtime's layout rules as the planner needs them, pure (profile data in, layouts out):
//   - per-block activation modes from counts (config/block_modes.h's documented rule);
//   - the executor's parameter-group acquisition order (executor_use_sequence);
//   - the chunk layout of a model at one chunk size, which chunks each group touches, and the
//     fewest device chunk buffers the executor needs (min_chunk_buffers uses the same function);
//   - the chunk-size grid choose_chunk_elems searches.
// These replicate functions of mart_config/mart_runtime because mart_planner may not link them;
// tests/profiler_auto checks each replica against the original, so they cannot drift apart.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "layout/activation_memory.h"
#include "layout/chunk_layout.h"
#include "layout/resident_sets.h"
#include "planner/profile.h"

namespace mart {



// A model's chunk layout at one chunk size, with what the cost model needs of it.
struct ModelChunks {
  ChunkLayout layout;
  std::vector<std::vector<int>> group_chunks;  // chunks each group touches, in tensor order
  std::vector<uint64_t> chunk_numel;           // parameter elements per chunk (Adam work)
  int n_chunks() const { return layout.n_chunks(); }
};
ModelChunks model_chunks(const ModelProfile& m, uint64_t chunk_elems);

// Fewest device chunk buffers of a model at one chunk layout (the two functions above).
int min_buffers(const ModelProfile& m, const ModelChunks& c, int n_persist);

// Candidate chunk capacities (elements): choose_chunk_elems's grid, ascending, deduplicated.
std::vector<uint64_t> chunk_size_grid(const ModelProfile& m);

// The body of one block as activation_memory() takes it, for micro-batch profile `mb`.
ActBody act_body(const ModelProfile& m, const MicroBatchProfile& mb);

}  // namespace mart
