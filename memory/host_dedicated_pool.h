// Internal to the host allocator (memory/host_allocator.h): the dedicated tier, for requests of at
// least dedicated_threshold bytes (chunks, swap buffers).
//
// Each block gets a slab of its own (memory/host_slab_map.h), of the request rounded up to the
// page size, so that the largest buffers waste less than a page. A freed slab is kept in a per-node
// cache and handed out again only for the exact same length (activation buffers come back every
// step, and reuse must not waste a byte), until trim() or until the pinned limit needs the room
// (the slab map calls trim() before failing). With cache_dedicated off, frees unmap at once.
//
// Invariants (check_invariants() verifies them at quiescence):
//  I2 (dedicated part) a live dedicated block starts its slab, which is of kind kDedicated, not
//     cached, and exactly round_up(bytes, page) long: allocate() maps exactly that length or takes
//     a cached slab of exactly that length, and clears its cached flag;
//  I3 (dedicated part) per node, cached == the sum of the lengths of the slabs flagged cached,
//     which are exactly the slabs in the cache: the flag and the cache entry change together under
//     the node's mutex, the counter with them (trim() lowers it as it unmaps each taken slab).
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "memory/host_allocator.h"
#include "memory/host_slab_map.h"

namespace mart::host_detail {

class DedicatedPool {
 public:
  DedicatedPool(SlabMap& slabs, const HostAllocatorOptions& opts)
      : slabs_(slabs), opts_(opts), nodes_(slabs.num_nodes()) {}

  // A page-aligned block of `bytes` bytes on node index `node`: a cached slab of the exact length,
  // or a new one. Throws PinnedHostExhausted as SlabMap::map().
  void* allocate(int node, uint64_t bytes);
  // p: a block allocate() returned on `node`, no longer live.
  void deallocate(int node, void* p);
  // Unmaps every cached slab; returns the bytes released.
  uint64_t trim();

  uint64_t cached(int node) const { return nodes_[node].cached.load(); }
  // cached, dedicated_reuses, dedicated_slabs.
  void node_stats(int node, HostPoolStats& out) const;

 private:
  struct Node {
    std::mutex mu;                             // guards cache and Slab::cached of its slabs
    std::multimap<uint64_t, Slab*> cache;      // freed slabs by length
    std::atomic<uint64_t> cached{0};           // sum of the cached slabs' lengths
    std::atomic<uint64_t> reuses{0};           // allocations served from the cache
    std::atomic<uint64_t> dedicated_slabs{0};  // live + cached
  };

  SlabMap& slabs_;
  const HostAllocatorOptions& opts_;
  std::vector<Node> nodes_;  // same order as the slab map's nodes
};

}  // namespace mart::host_detail
