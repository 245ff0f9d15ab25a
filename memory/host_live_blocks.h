// Internal to the host allocator (memory/host_allocator.h): the registry of live blocks, what
// makes frees origin-aware (any thread, any node) and the requested-size accounting exact.
//
// A sharded hash map from block start to {requested size, node, tier}, 64 shards each with its own
// mutex, and the counters of what is live: in_use (requested bytes, not rounded) and live_blocks
// per node and in total, with the allocation and free counts per node.
//
// Invariant I3 (live part; check_invariants() verifies it at quiescence): per node and in total,
// in_use == the sum of the live blocks' requested sizes and live_blocks == their count. It holds
// because every insert() is followed by count_allocation() and every take() by count_free(), with
// the same block.
//
// Ordering rule (HostAllocator::deallocate): a block is take()n out of the map before its memory
// is returned to its tier, so that an address reused by a concurrent allocation can never collide
// with the stale entry.
#pragma once
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "memory/host_allocator.h"
#include "memory/host_pool_stats.h"

namespace mart::host_detail {

// A live block as the allocator handed it out.
struct LiveBlock {
  uint64_t bytes;  // requested size, exact
  int node;        // node index (topology order), not the OS index
  bool dedicated;
};

class LiveBlocks {
 public:
  explicit LiveBlocks(size_t nodes) : nodes_(nodes) {}

  // Records p as live; throws mart::Error when it already is (an allocator bug).
  void insert(const void* p, const LiveBlock& b);
  // Removes live block p and returns it; throws mart::Error when p is not a live block (double
  // free, or memory from another allocator).
  LiveBlock take(const void* p);
  // The requested size of live block p; throws mart::Error when p is not a live block start.
  uint64_t size_of(const void* p) const;
  // Every live block, by start address (shard by shard; consistent only at quiescence).
  std::vector<std::pair<uintptr_t, LiveBlock>> snapshot() const;

  // Counters, after insert() and after take() (and the memory's return) respectively.
  void count_allocation(const LiveBlock& b);
  void count_free(const LiveBlock& b);

  const Gauge& in_use() const { return in_use_; }
  const Gauge& count() const { return count_; }
  const Gauge& in_use(int node) const { return nodes_[node].in_use; }
  const Gauge& count(int node) const { return nodes_[node].count; }
  // in_use, live_blocks (with peaks), allocations, frees.
  void node_stats(int node, HostPoolStats& out) const;
  void reset_peaks();

 private:
  static constexpr int kShards = 64;
  struct alignas(64) Shard {
    std::mutex mu;
    std::unordered_map<uintptr_t, LiveBlock> blocks;
  };
  struct Node {
    Gauge in_use, count;
    std::atomic<uint64_t> allocations{0}, frees{0};
  };
  Shard& shard(const void* p) const;

  mutable std::array<Shard, kShards> shards_;
  std::vector<Node> nodes_;
  Gauge in_use_, count_;
};

}  // namespace mart::host_detail
