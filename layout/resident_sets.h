// Layout rules shared by the runtime and the planner (one implementation, no replicas):
//   - the executor's parameter-group acquisition order;
//   - which chunks must be resident together at each acquisition, and so the fewest device chunk
//     buffers (the chunk manager's n_buffer check and the cost model use the same functions).
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace mart {

// (group, backward) acquisitions of one micro-batch: forward groups 0..L, the head (as backward:
// it runs the classifier's backward), group 0 again when the head is tied, backward groups L..0.
std::vector<std::pair<int, bool>> executor_acquire_order(int n_layer, bool tied_head);

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

}  // namespace mart
