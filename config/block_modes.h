// Which activation mode each transformer block uses: "keep" (stored on device), "checkpoint"
// (dropped, recomputed in backward), "swap" (copied to host, fetched back before backward),
// "compress" (stored lossily, error bound activations.eb) or "compress_swap" (compressed, and the
// encoding swapped to host).
#pragma once
#include <string>
#include <vector>

#include "config/job_config.h"

namespace mart {

// The mode of every block, n_layer entries, block 0 first.
//
// If activations.modes is non-empty it is returned as is. Otherwise the modes come from the
// counts by block_modes_from_counts (layout/act_mode.h; the planner uses the same function).
// With S = n_swap, W = n_compress_swap, C = n_checkpoint, Z = n_compress, F = S + W:
//   blocks [0, S)            swap        early blocks' activations wait longest for backward, so
//                                        they have the most time to travel to host and back;
//   blocks [S, F)            compress_swap  next: their copies are smaller than a raw swap's;
//   blocks [F, F + C + Z)    checkpoint and compress, interleaved: the i-th checkpointed block
//                                        (i = 0..C-1) is F + round(i * (C + Z) / C) (halves round
//                                        up), the rest of this range is compress. Spreading the
//                                        recomputation evenly keeps backward from stalling on a
//                                        run of recomputes;
//   the rest                 keep        the last blocks are needed first in backward.
// Examples (n_layer 8): S2 C2 Z2 -> swap swap ckpt comp ckpt comp keep keep;
//                       S1 C2 Z4 -> swap ckpt comp comp ckpt comp comp keep;
//                       S0 C3 Z1 -> ckpt ckpt comp ckpt keep keep keep keep.
//                       S1 W2 C1 -> swap cswap cswap ckpt keep keep keep keep.
// With Z = 0 the checkpointed blocks are simply the C blocks after the swapped ones.
// Counts must fit (validate() checks); throws mart::Error if they do not.
std::vector<std::string> resolve_block_modes(const JobConfig& c);

}  // namespace mart
