#include "memory/host_live_blocks.h"

#include "common/error.h"

namespace mart::host_detail {

LiveBlocks::Shard& LiveBlocks::shard(const void* p) const {
  uint64_t h = (reinterpret_cast<uintptr_t>(p) >> 6) * 0x9E3779B97F4A7C15ull;
  return shards_[h >> 58];
}

void LiveBlocks::insert(const void* p, const LiveBlock& b) {
  Shard& sh = shard(p);
  std::lock_guard<std::mutex> lock(sh.mu);
  bool inserted = sh.blocks.emplace(reinterpret_cast<uintptr_t>(p), b).second;
  MART_CHECK(inserted, "internal: host allocator handed out live block ", p, " twice");
}

LiveBlock LiveBlocks::take(const void* p) {
  Shard& sh = shard(p);
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = sh.blocks.find(reinterpret_cast<uintptr_t>(p));
  MART_CHECK(it != sh.blocks.end(), "host allocator: freeing ", p,
             ", which is not a live block of this allocator (double free, or memory from "
             "another allocator)");
  LiveBlock b = it->second;
  sh.blocks.erase(it);
  return b;
}

uint64_t LiveBlocks::size_of(const void* p) const {
  Shard& sh = shard(p);
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = sh.blocks.find(reinterpret_cast<uintptr_t>(p));
  MART_CHECK(it != sh.blocks.end(), "host allocator: ", p, " is not a live block");
  return it->second.bytes;
}

std::vector<std::pair<uintptr_t, LiveBlock>> LiveBlocks::snapshot() const {
  std::vector<std::pair<uintptr_t, LiveBlock>> out;
  for (Shard& sh : shards_) {
    std::lock_guard<std::mutex> lock(sh.mu);
    for (auto& [p, b] : sh.blocks) out.emplace_back(p, b);
  }
  return out;
}

void LiveBlocks::count_allocation(const LiveBlock& b) {
  Node& n = nodes_[b.node];
  n.in_use.add(b.bytes);
  n.count.add(1);
  n.allocations.fetch_add(1, std::memory_order_relaxed);
  in_use_.add(b.bytes);
  count_.add(1);
}

void LiveBlocks::count_free(const LiveBlock& b) {
  Node& n = nodes_[b.node];
  n.in_use.sub(b.bytes);
  n.count.sub(1);
  n.frees.fetch_add(1, std::memory_order_relaxed);
  in_use_.sub(b.bytes);
  count_.sub(1);
}

void LiveBlocks::node_stats(int node, HostPoolStats& out) const {
  const Node& n = nodes_[node];
  out.in_use = n.in_use.now();
  out.peak_in_use = n.in_use.max();
  out.live_blocks = n.count.now();
  out.peak_live_blocks = n.count.max();
  out.allocations = n.allocations.load();
  out.frees = n.frees.load();
}

void LiveBlocks::reset_peaks() {
  in_use_.reset_peak();
  count_.reset_peak();
  for (Node& n : nodes_) {
    n.in_use.reset_peak();
    n.count.reset_peak();
  }
}

}  // namespace mart::host_detail
