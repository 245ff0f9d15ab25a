// The runtime's layout rules as the planner needs them, pure (profile data in, layouts out):
//   - the chunk layout of a model at one chunk size, which chunks each group touches, and the
//     fewest device chunk buffers the executor needs (layout/resident_sets.h, shared with the
//     chunk manager);
//   - the chunk-size grid choose_chunk_elems searches (tests/profiler_auto checks it against the
//     original).
// Block modes from counts and the acquisition order are layout/'s, shared with the runtime.
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
