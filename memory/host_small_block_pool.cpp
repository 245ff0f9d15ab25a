#include "memory/host_small_block_pool.h"

#include <algorithm>
#include <cstdio>

#include "common/error.h"
#include "common/units.h"

namespace mart::host_detail {

// Room for one small block plus what jemalloc may need with it: the large-size page pad and a
// fresh 2 MiB metadata block at 2 MiB alignment.
uint64_t SmallBlockPool::shared_slab_len(uint64_t bytes) const {
  uint64_t need = round_up(bytes + page_size() + 2 * kHugePage, kHugePage);
  uint64_t len = opts_.slab_bytes;
  if (opts_.pinned_limit) {
    // Near the limit, a smaller slab may still fit where a full one would not.
    uint64_t r = slabs_.reserved().now();
    uint64_t left = r < opts_.pinned_limit ? (opts_.pinned_limit - r) / kHugePage * kHugePage : 0;
    if (left < len) len = std::max(left, need);
  }
  return std::max(len, need);
}

SlabArena* SmallBlockPool::arena_of(int node, uint64_t bytes) {
  Node& ns = nodes_[node];
  if (SlabArena* a = ns.arena_ptr.load(std::memory_order_acquire)) return a;
  std::lock_guard<std::mutex> lock(ns.grow_mu);
  if (ns.arena) return ns.arena.get();
  Slab* s = slabs_.map(node, shared_slab_len(bytes), SlabKind::kShared, bytes);
  std::unique_ptr<SlabArena> a;
  std::string why;
  if (opts_.backend != SmallBackend::kFirstFit) {
    // Grow requests at most a quarter slab, so they fit the tails of partly used slabs.
    uint64_t grow_limit = std::max<uint64_t>(opts_.slab_bytes / 4, kHugePage);
    a = make_jemalloc_arena(s->base, s->len, grow_limit, &why);
    if (!a && opts_.backend == SmallBackend::kJemalloc) {
      slabs_.release(s);
      MART_FAIL("jemalloc could not create a hooked arena for NUMA node ", slabs_.os(node), ": ",
                why, "; use the first-fit backend (SmallBackend::kFirstFit) instead");
    }
    if (!a)
      warnings_.add(str("jemalloc arena unavailable (", why, "); using the first-fit allocator"));
    else if (!why.empty())
      warnings_.add(str("jemalloc arena of NUMA node ", slabs_.os(node), ": ", why));
  }
  if (!a) {
    // jemalloc refused at arenas.create and holds nothing in the slab: it is free to reuse.
    a = make_first_fit_arena();
    a->add_slab(s->base, s->len);
  }
  ns.shared_slabs.fetch_add(1);
  {
    std::lock_guard<std::mutex> info(backend_mu_);
    // Nodes normally share one backend; a mix (jemalloc refused on one node) lists both.
    std::string name = a->name();
    if (backend_.find(name) == std::string::npos)
      backend_ = backend_.empty() ? name : backend_ + " + " + name;
  }
  ns.arena = std::move(a);
  ns.arena_ptr.store(ns.arena.get(), std::memory_order_release);
  return ns.arena.get();
}

void* SmallBlockPool::allocate(int node, uint64_t bytes) {
  Node& ns = nodes_[node];
  SlabArena* a = arena_of(node, bytes);
  // Grow lazily: only a failed allocation adds a slab, because jemalloc often has room inside
  // extents it already holds, which no slab-level heuristic could see.
  // A miss after another thread grew is retried without growing again; this thread's own
  // growths are bounded, as a fresh slab always has room for one small block.
  for (int grown = 0;;) {
    uint64_t gen = ns.generation.load(std::memory_order_acquire);
    if (void* p = a->allocate(bytes)) return p;
    std::lock_guard<std::mutex> lock(ns.grow_mu);
    if (ns.generation.load(std::memory_order_acquire) != gen) continue;  // another thread grew
    MART_CHECK(grown < 8, "internal: the small-block arena of NUMA node ", slabs_.os(node), " (",
               a->name(), ") could not place ", bytes, " bytes even after adding slabs");
    Slab* s = slabs_.map(node, shared_slab_len(bytes), SlabKind::kShared, bytes);
    a->add_slab(s->base, s->len);
    ns.shared_slabs.fetch_add(1);
    ns.generation.fetch_add(1, std::memory_order_release);
    ++grown;
  }
}

void SmallBlockPool::deallocate(int node, void* p, uint64_t bytes) {
  nodes_[node].arena_ptr.load(std::memory_order_acquire)->deallocate(p, bytes);
}

std::string SmallBlockPool::backend() const {
  std::lock_guard<std::mutex> lock(backend_mu_);
  return backend_;
}

void SmallBlockPool::node_stats(int node, HostPoolStats& out) const {
  if (SlabArena* a = arena(node)) out.arena_carved = a->carved_bytes();
  out.shared_slabs = nodes_[node].shared_slabs.load();
}

std::vector<bool> SmallBlockPool::release_arenas() {
  std::vector<bool> keep_shared(nodes_.size(), false);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& ns = nodes_[i];
    int node = static_cast<int>(i);
    if (ns.arena && !ns.arena->release()) {
      // Unmapping would leave jemalloc with metadata in unmapped memory: leak the slabs instead.
      keep_shared[i] = true;
      std::fprintf(stderr,
                   "mart: jemalloc refused to destroy the host arena of NUMA node %u; its %s of "
                   "slabs stay mapped\n",
                   slabs_.os(node), format_bytes(slabs_.reserved(node).now()).c_str());
    }
    ns.arena_ptr.store(nullptr);
    if (!keep_shared[i])
      ns.arena.reset();
    else
      (void)ns.arena.release();  // its hook state must outlive any later jemalloc access
  }
  return keep_shared;
}

}  // namespace mart::host_detail
