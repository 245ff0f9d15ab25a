// Internal to the host allocator (memory/host_allocator.h): the small-block tier, for requests
// below dedicated_threshold.
//
// One sub-allocator per node (memory/jemalloc_arena.h) over shared slabs of slab_bytes each, taken
// from the slab map (memory/host_slab_map.h): a jemalloc arena with extent hooks, or a first-fit
// free list where jemalloc refuses (SmallBackend). A node's arena is created by its first small
// request, over a first slab; further slabs are added lazily, only when the arena cannot place a
// request. Near the pinned limit a slab may be smaller than slab_bytes, never smaller than one
// request needs.
//
// Invariants (check_invariants() verifies them at quiescence):
//  I2 (small part) a live small block sits in a shared slab of its node, at a kAlignment-aligned
//     address, and is owned by its node's arena: allocate() asks only that node's arena, which
//     only ever holds that node's shared slabs (add_slab() after a map() on the same node);
//  I3 (small part) per node, shared_slabs == the number of shared slabs handed to its arena.
//
// Locks: a node's grow_mu serialises arena creation and slab growth (slow: mmap + register), so
// that concurrent misses add one slab, not one each. It is taken before any lock of the slab map
// or the dedicated pool (map() may trim), never under them.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "memory/host_allocator.h"
#include "memory/host_pool_stats.h"
#include "memory/host_slab_map.h"
#include "memory/jemalloc_arena.h"

namespace mart::host_detail {

class SmallBlockPool {
 public:
  SmallBlockPool(SlabMap& slabs, const HostAllocatorOptions& opts, WarningLog& warnings)
      : slabs_(slabs), opts_(opts), warnings_(warnings), nodes_(slabs.num_nodes()) {}

  // A SlabArena::kAlignment-aligned block of at least `bytes` bytes on node index `node`. Throws
  // PinnedHostExhausted as SlabMap::map(), mart::Error when the backend asked for is unavailable.
  void* allocate(int node, uint64_t bytes);
  // p: a block allocate() returned on `node` for `bytes` bytes, no longer live. Any thread.
  void deallocate(int node, void* p, uint64_t bytes);

  // The node's arena, or nullptr before its first small block (and after release_arenas()).
  SlabArena* arena(int node) const {
    return nodes_[node].arena_ptr.load(std::memory_order_acquire);
  }
  // The backends in use ("jemalloc ... arenas with extent hooks", "first-fit free list", or both
  // joined by " + " when one node fell back); empty before the first small block.
  std::string backend() const;
  // arena_carved, shared_slabs.
  void node_stats(int node, HostPoolStats& out) const;

  // Ends every arena (for the allocator's destructor, before the slabs are unmapped). Returns, per
  // node, whether its shared slabs must stay mapped because jemalloc refused to destroy the arena
  // (its metadata lives in them); such an arena is leaked, as jemalloc may still reach its hooks.
  std::vector<bool> release_arenas();

 private:
  struct Node {
    std::mutex grow_mu;
    std::unique_ptr<SlabArena> arena;            // created once under grow_mu
    std::atomic<SlabArena*> arena_ptr{nullptr};  // lock-free read of arena
    std::atomic<uint64_t> generation{0};         // bumped after each shared slab is added
    std::atomic<uint64_t> shared_slabs{0};
  };
  SlabArena* arena_of(int node, uint64_t bytes);
  uint64_t shared_slab_len(uint64_t bytes) const;

  SlabMap& slabs_;
  const HostAllocatorOptions& opts_;
  WarningLog& warnings_;
  std::vector<Node> nodes_;  // same order as the slab map's nodes
  mutable std::mutex backend_mu_;
  std::string backend_;
};

}  // namespace mart::host_detail
