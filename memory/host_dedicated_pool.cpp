#include "memory/host_dedicated_pool.h"

#include "common/error.h"

namespace mart::host_detail {

void* DedicatedPool::allocate(int node, uint64_t bytes) {
  Node& ns = nodes_[node];
  uint64_t len = round_up(bytes, page_size());
  if (opts_.cache_dedicated) {
    std::lock_guard<std::mutex> lock(ns.mu);
    auto it = ns.cache.find(len);  // exact length only: reuse must not waste a byte
    if (it != ns.cache.end()) {
      Slab* s = it->second;
      ns.cache.erase(it);
      s->cached = false;
      ns.cached.fetch_sub(len);
      ns.reuses.fetch_add(1);
      return s->base;
    }
  }
  // Not under ns.mu: mapping may trim(), which takes it.
  Slab* s = slabs_.map(node, len, SlabKind::kDedicated, bytes);
  ns.dedicated_slabs.fetch_add(1);
  return s->base;
}

void DedicatedPool::deallocate(int node, void* p) {
  Node& ns = nodes_[node];
  Slab* s = slabs_.starting_at(p);
  MART_CHECK(s != nullptr, "internal: dedicated block without its slab");
  if (opts_.cache_dedicated) {
    std::lock_guard<std::mutex> lock(ns.mu);
    s->cached = true;
    ns.cache.emplace(s->len, s);
    ns.cached.fetch_add(s->len);
    return;
  }
  slabs_.release(s);
  ns.dedicated_slabs.fetch_sub(1);
}

uint64_t DedicatedPool::trim() {
  uint64_t released = 0;
  for (Node& ns : nodes_) {
    std::vector<Slab*> victims;
    {
      std::lock_guard<std::mutex> lock(ns.mu);
      for (auto& [len, s] : ns.cache) victims.push_back(s);
      ns.cache.clear();
    }
    for (Slab* s : victims) {
      ns.cached.fetch_sub(s->len);
      ns.dedicated_slabs.fetch_sub(1);
      released += s->len;
      slabs_.release(s);
    }
  }
  return released;
}

void DedicatedPool::node_stats(int node, HostPoolStats& out) const {
  const Node& ns = nodes_[node];
  out.cached = ns.cached.load();
  out.dedicated_reuses = ns.reuses.load();
  out.dedicated_slabs = ns.dedicated_slabs.load();
}

}  // namespace mart::host_detail
