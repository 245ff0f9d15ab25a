// Internal to the host allocator (memory/host_allocator.h): the slabs, i.e. every mapping the
// allocator holds, and the pinned budget they are admitted against.
//
// map() reserves the bytes against the pinned limit, mmaps them (2 MiB-aligned when large enough
// for transparent huge pages), binds them to the node before the first touch, registers them with
// cudaHostRegister when the allocator pins, and records the slab in an address-ordered registry;
// release() undoes all of it. The registry answers "which slab holds this address" for frees,
// node_of() and the invariant checks. Both tiers take their memory from here: the small-block pool
// (memory/host_small_block_pool.h) shared slabs, the dedicated pool (memory/host_dedicated_pool.h)
// one slab per block.
//
// Invariants (check_invariants() verifies them at quiescence):
//  I1 (slab part) slabs never overlap: each is a fresh mapping, recorded in map() and erased in
//     release() before it is unmapped;
//  I3 (slab part) per node and in total: reserved == sum of slab lengths, pinned == sum of the
//     registered slabs' lengths; map() and release() move the gauges with the registry;
//  I4 total reserved <= pinned_limit when a limit is set: reserve() admits a slab only then.
//
// Locks: the registry's shared mutex and the per-node membind mutex are leaves. map() may call the
// reclaim callback (the dedicated pool's trim), which takes the dedicated pool's locks and calls
// release(); so map() must not be called under those.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "memory/host_allocator.h"
#include "memory/host_live_blocks.h"
#include "memory/host_pool_stats.h"
#include "memory/numa_topology.h"

namespace mart::host_detail {

inline constexpr uint64_t kHugePage = 2ull << 20;
uint64_t page_size();
inline uint64_t round_up(uint64_t x, uint64_t a) {
  return (x + a - 1) / a * a;
}

enum class SlabKind { kShared, kDedicated };

// One mapping: mmap'ed, bound to its node, registered when the allocator pins.
struct Slab {
  char* base = nullptr;
  uint64_t len = 0;  // multiple of the page size
  int node = 0;      // node index (topology order)
  SlabKind kind = SlabKind::kShared;
  bool registered = false;
  bool cached = false;  // dedicated slab freed and kept for reuse; guarded by the dedicated pool
};

class SlabMap {
 public:
  using Registry = std::map<uintptr_t, std::unique_ptr<Slab>>;

  // `live` is read for the numbers in PinnedHostExhausted; `warnings` records binding failures.
  SlabMap(const NumaTopology& topo, const HostAllocatorOptions& opts, const LiveBlocks& live,
          WarningLog& warnings);

  // Register new slabs with CUDA (set once, before the first map()).
  void set_pin(bool pin) { pin_ = pin; }
  // Called once when a slab would exceed the pinned limit, before failing; returns bytes freed.
  void set_reclaim(std::function<uint64_t()> reclaim) { reclaim_ = std::move(reclaim); }

  // Maps, binds and registers a slab of `len` bytes (a page multiple) on node index `node`, for a
  // request of `requested` bytes (named in the error). Outside any jemalloc hook. Throws
  // PinnedHostExhausted when the limit, mmap or cudaHostRegister refuse; nothing is held then.
  Slab* map(int node, uint64_t len, SlabKind kind, uint64_t requested);
  // Unregisters, unmaps and unreserves s; s is gone afterwards.
  void release(Slab* s);
  // Releases every slab but the shared slabs of the nodes marked in keep_shared (whose memory a
  // jemalloc arena may still read). For the allocator's destructor only.
  void release_all(const std::vector<bool>& keep_shared);

  // The slab that starts exactly at p, or nullptr.
  Slab* starting_at(const void* p) const;
  // The OS index of the node whose slab holds p (any address inside it), or -1.
  int os_of(const void* p) const;
  // For whole-registry reads (check_invariants): hold the lock while using the two below.
  std::shared_lock<std::shared_mutex> lock_shared() const {
    return std::shared_lock<std::shared_mutex>(mu_);
  }
  const Registry& slabs() const { return slabs_; }  // caller holds lock_shared()
  const Slab* containing(uintptr_t p) const;        // caller holds lock_shared()

  size_t num_nodes() const { return nodes_.size(); }
  unsigned os(int node) const { return nodes_[node].os; }
  const Gauge& reserved() const { return reserved_; }
  const Gauge& pinned() const { return pinned_; }
  const Gauge& reserved(int node) const { return nodes_[node].reserved; }
  const Gauge& pinned(int node) const { return nodes_[node].pinned; }
  // reserved, pinned (with peaks) and membind.
  void node_stats(int node, HostPoolStats& out) const;
  void reset_peaks();

 private:
  struct Node {
    unsigned os = 0;
    Gauge reserved, pinned;
    mutable std::mutex membind_mu;
    std::string membind;  // the last non-strict binding, else the first strict one
  };
  void reserve(int node, uint64_t len, uint64_t requested);
  void unreserve(int node, uint64_t len);
  [[noreturn]] void exhausted(int node, uint64_t requested, uint64_t slab_len,
                              const std::string& cause) const;

  const NumaTopology& topo_;
  const HostAllocatorOptions& opts_;
  const LiveBlocks& live_;
  WarningLog& warnings_;
  bool pin_ = false;
  std::function<uint64_t()> reclaim_;
  std::vector<Node> nodes_;  // same order as topo.nodes()
  Gauge reserved_, pinned_;

  mutable std::shared_mutex mu_;  // guards slabs_
  Registry slabs_;
};

}  // namespace mart::host_detail
