// Internal to the host allocator (memory/host_allocator.h): HostAllocator::Impl, the pieces it is
// made of, and where each of them lives.
//
//   host_live_blocks.h      LiveBlocks      live block -> {size, node, tier}; in_use, live_blocks
//   host_slab_map.h         SlabMap         mmap + NUMA bind + cudaHostRegister, pinned budget,
//                                           the address-ordered registry of slabs
//   host_small_block_pool.h SmallBlockPool  small requests: per-node arenas over shared slabs
//   host_dedicated_pool.h   DedicatedPool   large requests: exact-size slabs and their cache
//   host_pool_stats.h       Gauge, WarningLog
//
//   host_allocator.cpp            options, pinning mode, allocate / deallocate / trim, teardown
//   host_allocator_stats.cpp      stats(), reset_peaks(), to_string()
//   host_allocator_invariants.cpp check_invariants()
//
// Invariants (at quiescence; check_invariants() verifies them), each written out next to the code
// that maintains it:
//  I1 slabs never overlap (host_slab_map.h), and every live block lies inside exactly one slab, of
//     its own node (each tier places a node's blocks in that node's slabs only);
//  I2 a live dedicated block starts its own exact-size slab (host_dedicated_pool.h); a live small
//     block sits in a shared slab and is owned by its node's arena (host_small_block_pool.h);
//  I3 per node and in total, the counters equal what they count: in_use and live_blocks
//     (host_live_blocks.h), reserved and pinned (host_slab_map.h), cached (host_dedicated_pool.h);
//  I4 total reserved <= pinned_limit when a limit is set (host_slab_map.h).
#pragma once
#include "memory/host_allocator.h"
#include "memory/host_dedicated_pool.h"
#include "memory/host_live_blocks.h"
#include "memory/host_pool_stats.h"
#include "memory/host_slab_map.h"
#include "memory/host_small_block_pool.h"

namespace mart {

struct HostAllocator::Impl {
  Impl(const NumaTopology& topo, const HostAllocatorOptions& opts);

  // The node index (topology order) of OS node `os`; throws mart::Error naming the nodes that
  // exist when there is no such node.
  int node_index(int os) const;

  const NumaTopology& topo;
  const HostAllocatorOptions& opts;
  host_detail::WarningLog warnings;
  host_detail::LiveBlocks live;
  host_detail::SlabMap slabs;
  host_detail::DedicatedPool dedicated;
  host_detail::SmallBlockPool small;
};

}  // namespace mart
