// HostAllocator: pinned, exact-size, NUMA-local host memory for offloaded model states and
// swapped activations.
//
// Why not a power-of-two caching allocator (PyTorch's pinned allocator): it wastes up to 2x of
// the largest buffers and ignores NUMA; host memory is what bounds model size here
// (docs/DESIGN.md §1 and §4). Two tiers, both over memory that is mmap'ed, bound to the
// chosen node and registered with cudaHostRegister once, ahead of use:
//  - requests >= dedicated_threshold (chunks, swap buffers) get a slab of their own, of the
//    request rounded up to the page size. Freed ones are kept for an exact-size reuse until
//    trim() or until the pinned limit needs the room;
//  - smaller requests come from a per-node sub-allocator over shared slabs: a jemalloc arena
//    with extent hooks (jemalloc_arena.h), or a first-fit free list where jemalloc refuses.
// Frees go back to the node the block came from, whatever thread frees it.
//
// Accounting is exact: in_use is the sum of the live requests' sizes (not rounded), reserved is
// what the slabs map, pinned is what is registered with CUDA (0 on the CPU backend, where the
// same path runs with plain memory). The pinned limit caps reserved bytes and fails with
// PinnedHostExhausted, which says it is host memory, so that it never reads as a device OOM.
//
// Thread-safe: every method may be called from any thread.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "memory/numa_topology.h"

namespace mart {

// Host (not device) memory ran out: the pinned limit, mmap or cudaHostRegister refused.
class PinnedHostExhausted : public Error {
 public:
  explicit PinnedHostExhausted(const std::string& msg) : Error(msg) {}
};

enum class PinMode {
  kAuto,     // register with CUDA when the build has CUDA and a device is visible
  kRequire,  // fail at construction when memory cannot be registered
  kOff,      // plain memory (tests, CPU-only runs)
};

enum class SmallBackend {
  kAuto,      // jemalloc, or first-fit with a recorded warning when jemalloc refuses
  kJemalloc,  // jemalloc or fail
  kFirstFit,  // always the fallback (to test it, or to compare)
};

struct HostAllocatorOptions {
  // Size of the shared slabs behind the small-block tier. A multiple of 2 MiB (jemalloc puts its
  // metadata at 2 MiB alignment) and at least 2 * dedicated_threshold + 4 MiB.
  uint64_t slab_bytes = 256ull << 20;
  // Requests of at least this size get their own exact-size slab.
  uint64_t dedicated_threshold = 1ull << 20;
  // Cap on reserved (pinned) bytes over all nodes; 0 = no cap other than the OS's.
  // Config key: memory.host_pinned_limit.
  uint64_t pinned_limit = 0;
  // Node (OS index) for allocate(bytes) without a node; -1 = the topology's first node.
  // Usually NumaTopology::gpu_local_nodes(device).node().
  int default_node = -1;
  PinMode pin = PinMode::kAuto;
  SmallBackend backend = SmallBackend::kAuto;
  // Keep freed dedicated slabs for an exact-size reuse (activation buffers come back every step).
  bool cache_dedicated = true;
  // madvise(MADV_HUGEPAGE) on slabs: fewer pages to pin and to walk in DMA.
  bool transparent_huge_pages = true;
};

// Counters of one node (or the total). Peaks are since construction or reset_peaks().
struct HostPoolStats {
  int node = -1;        // OS index; -1 for the total
  uint64_t in_use = 0;  // sum of live requested sizes, exact
  uint64_t peak_in_use = 0;
  uint64_t reserved = 0;  // bytes mapped in slabs (shared + dedicated + cached)
  uint64_t peak_reserved = 0;
  uint64_t pinned = 0;  // bytes registered with cudaHostRegister
  uint64_t peak_pinned = 0;
  uint64_t arena_carved = 0;  // shared-slab bytes the small-block tier took (see SlabArena)
  uint64_t cached = 0;        // freed dedicated slabs kept for reuse
  uint64_t live_blocks = 0;
  uint64_t peak_live_blocks = 0;
  uint64_t allocations = 0;  // calls that returned a block
  uint64_t frees = 0;
  uint64_t dedicated_reuses = 0;  // allocations served from the dedicated cache
  uint64_t shared_slabs = 0;
  uint64_t dedicated_slabs = 0;  // live + cached
  std::string membind;           // how its memory is bound (strict, preferred, not bound: why)
};

struct HostAllocatorStats {
  std::vector<HostPoolStats> nodes;  // nodes that have held memory, by OS index
  HostPoolStats total;
  uint64_t pinned_limit = 0;          // 0 = none
  bool registered = false;            // memory is registered with CUDA
  std::string backend;                // small-block tier in use
  std::vector<std::string> warnings;  // degraded modes, each once
};
std::string to_string(const HostAllocatorStats& stats);

class HostAllocator {
 public:
  explicit HostAllocator(NumaTopology topology, HostAllocatorOptions options = {});
  ~HostAllocator();  // releases everything; live blocks are reported on stderr
  HostAllocator(const HostAllocator&) = delete;
  HostAllocator& operator=(const HostAllocator&) = delete;

  // A block of `bytes` bytes on NUMA node `node` (OS index; -1 = default node), 64-byte aligned
  // (dedicated blocks are page-aligned). bytes == 0 returns nullptr. Throws PinnedHostExhausted
  // when the limit, mmap or registration refuse, mart::Error for a node that does not exist.
  void* allocate(size_t bytes, int node = -1);
  // Any thread; nullptr is ignored. Throws mart::Error for a pointer that is not a live block.
  void deallocate(void* p);

  // The node whose slab holds p (any address inside a block), or -1 when p is not ours.
  int node_of(const void* p) const;
  // The requested size of live block p; throws mart::Error when p is not a live block start.
  size_t block_size(const void* p) const;

  // Unmaps the cached dedicated slabs; returns the bytes released.
  uint64_t trim();
  HostAllocatorStats stats() const;
  void reset_peaks();

  int default_node() const { return default_node_; }
  bool registered() const { return register_; }
  const NumaTopology& topology() const { return topo_; }
  const HostAllocatorOptions& options() const { return opts_; }

  // Checks, and throws mart::Error naming the first violation: every live block lies inside
  // exactly one slab of its node (dedicated blocks: at the start of their own slab; small blocks:
  // owned by their node's arena), live blocks do not overlap, and the per-node sums of live sizes
  // and counts equal the stats. Call while no other thread allocates or frees.
  void check_invariants() const;

  struct Impl;

 private:
  NumaTopology topo_;
  HostAllocatorOptions opts_;
  int default_node_ = 0;
  bool register_ = false;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mart
