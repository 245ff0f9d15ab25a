// The runtime's layout rules as the planner needs them, pure (profile data in, layouts out):
//   - per-block activation modes from counts (runtime/config/block_modes.h's documented rule);
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

#include "runtime/planner/activation_memory.h"
#include "runtime/planner/chunk_layout.h"
#include "runtime/planner/profile.h"

namespace mart {

// resolve_block_modes for counts: swap first, compress_swap next, checkpoint/compress interleaved
// after them, keep last.
std::vector<ActMode> layout_block_modes(int n_layer, int n_swap, int n_checkpoint, int n_compress,
                                        int n_compress_swap = 0);

// (group, backward) acquisitions of one micro-batch: forward groups 0..L, the head (as backward:
// it runs the classifier's backward), group 0 again when the head is tied, backward groups L..0.
std::vector<std::pair<int, bool>> executor_acquire_order(int n_layer, bool tied_head);

// A model's chunk layout at one chunk size, with what the cost model needs of it.
struct ModelChunks {
  ChunkLayout layout;
  std::vector<std::vector<int>> group_chunks;  // chunks each group touches, in tensor order
  std::vector<uint64_t> chunk_numel;           // parameter elements per chunk (Adam work)
  int n_chunks() const { return layout.n_chunks(); }
};
ModelChunks model_chunks(const ModelProfile& m, uint64_t chunk_elems);

// The chunks that must be resident together at each acquisition of one micro-batch (sorted):
// those of the acquired group (with a tied head, the head's and group 0's together: the executor
// holds both), plus every chunk whose gradients are live across that acquisition (the chunk
// manager never evicts them): its first backward use came earlier, its last is still to come.
// The chunk holding a tied embedding is such a chunk through the whole backward.
// `order`: executor_acquire_order; `head_group`: the head's group when tied, else -1.
std::vector<std::vector<int>> resident_chunk_sets(const std::vector<std::pair<int, bool>>& order,
                                                  const std::vector<std::vector<int>>& group_chunks,
                                                  int head_group);
// The most chunks with index >= n_persist in any one set: the fewest device chunk buffers.
int min_buffers_of_sets(const std::vector<std::vector<int>>& sets, int n_persist);
// Fewest device chunk buffers of a model at one chunk layout (the two functions above).
int min_buffers(const ModelProfile& m, const ModelChunks& c, int n_persist);

// Candidate chunk capacities (elements): choose_chunk_elems's grid, ascending, deduplicated.
std::vector<uint64_t> chunk_size_grid(const ModelProfile& m);

// The body of one block as activation_memory() takes it, for micro-batch profile `mb`.
ActBody act_body(const ModelProfile& m, const MicroBatchProfile& mb);

}  // namespace mart
