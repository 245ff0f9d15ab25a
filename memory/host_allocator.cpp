#include "memory/host_allocator.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#ifdef MART_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

#include "common/units.h"
#include "memory/jemalloc_arena.h"

namespace mart {
namespace {

constexpr uint64_t kHugePage = 2ull << 20;
constexpr uint64_t kMaxRequest = 1ull << 48;  // keeps every rounding below free of overflow

uint64_t page_size() {
  static const uint64_t p = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  return p;
}
uint64_t round_up(uint64_t x, uint64_t a) {
  return (x + a - 1) / a * a;
}

// A current value and the largest value it ever took, lock-free: the peak is raised with the exact
// value each add produced, so it is the true maximum of the linearised sequence of values.
struct Gauge {
  std::atomic<uint64_t> cur{0};
  std::atomic<uint64_t> peak{0};
  void add(uint64_t n) { raise(cur.fetch_add(n, std::memory_order_relaxed) + n); }
  void sub(uint64_t n) { cur.fetch_sub(n, std::memory_order_relaxed); }
  // Adds n unless the result would exceed limit.
  bool try_add(uint64_t n, uint64_t limit) {
    uint64_t v = cur.load(std::memory_order_relaxed);
    do {
      if (v + n > limit) return false;
    } while (!cur.compare_exchange_weak(v, v + n, std::memory_order_relaxed));
    raise(v + n);
    return true;
  }
  void raise(uint64_t v) {
    uint64_t p = peak.load(std::memory_order_relaxed);
    while (v > p && !peak.compare_exchange_weak(p, v, std::memory_order_relaxed)) {
    }
  }
  void reset_peak() { peak.store(cur.load(std::memory_order_relaxed), std::memory_order_relaxed); }
  uint64_t now() const { return cur.load(std::memory_order_relaxed); }
  uint64_t max() const { return peak.load(std::memory_order_relaxed); }
};

enum class SlabKind { kShared, kDedicated };

// One mapping: mmap'ed, bound to its node, registered when the allocator pins.
struct Slab {
  char* base = nullptr;
  uint64_t len = 0;  // multiple of the page size
  int node = 0;      // index into Impl::nodes
  SlabKind kind = SlabKind::kShared;
  bool registered = false;
  bool cached = false;  // dedicated slab freed and kept for reuse; guarded by NodeState::mu
};

struct NodeState {
  unsigned os = 0;
  // Serialises arena creation and shared-slab growth (slow: mmap + register), so that concurrent
  // misses add one slab, not one each. Taken before mu, never under it.
  std::mutex grow_mu;
  // Guards the dedicated cache, Slab::cached and membind.
  std::mutex mu;
  std::unique_ptr<SlabArena> arena;            // created once under grow_mu
  std::atomic<SlabArena*> arena_ptr{nullptr};  // lock-free read of arena
  std::atomic<uint64_t> generation{0};         // bumped after each shared slab is added
  std::multimap<uint64_t, Slab*> cache;        // freed dedicated slabs by length
  std::string membind;

  Gauge in_use, reserved, pinned, live_blocks;
  std::atomic<uint64_t> cached{0}, allocations{0}, frees{0}, reuses{0};
  std::atomic<uint64_t> shared_slabs{0}, dedicated_slabs{0};
};

// A live block as the allocator handed it out.
struct Live {
  uint64_t bytes;  // requested size, exact
  int node;        // index into Impl::nodes
  bool dedicated;
};

constexpr int kShards = 64;
struct alignas(64) Shard {
  std::mutex mu;
  std::unordered_map<uintptr_t, Live> blocks;
};

}  // namespace

// Invariants (at quiescence; check_invariants() verifies them):
//  I1 slabs never overlap, and every live block lies inside exactly one slab, of its own node;
//  I2 a live dedicated block starts its slab, which is not cached and is exactly
//     round_up(bytes, page) long; a live small block sits in a shared slab and is owned by its
//     node's arena;
//  I3 per node and in total: in_use == sum of live blocks' requested sizes, live_blocks == their
//     count; reserved == sum of slab lengths; pinned == sum of registered slab lengths;
//     cached == sum of cached dedicated slab lengths;
//  I4 total reserved <= pinned_limit when a limit is set (reserve() admits a slab only then).
// A block leaves the live map before its memory is returned, so an address reused by a
// concurrent allocation can never collide with the stale entry.
struct HostAllocator::Impl {
  const NumaTopology& topo;
  const HostAllocatorOptions& opts;
  bool pin = false;

  std::vector<std::unique_ptr<NodeState>> nodes;  // same order as topo.nodes()

  mutable std::shared_mutex slabs_mu;  // registry of all slabs, for origin and invariant lookups
  std::map<uintptr_t, std::unique_ptr<Slab>> slabs;

  std::array<Shard, kShards> live;
  Gauge in_use, reserved, pinned, live_blocks;

  mutable std::mutex info_mu;  // warnings and the backend name
  std::vector<std::string> warnings;
  std::string backend;

  Impl(const NumaTopology& t, const HostAllocatorOptions& o) : topo(t), opts(o) {
    for (const NumaNode& n : topo.nodes()) {
      nodes.push_back(std::make_unique<NodeState>());
      nodes.back()->os = n.os_index;
    }
  }

  void warn(const std::string& msg) {
    std::lock_guard<std::mutex> lock(info_mu);
    if (std::find(warnings.begin(), warnings.end(), msg) == warnings.end()) warnings.push_back(msg);
  }

  int node_index(int os) const {
    for (size_t i = 0; i < nodes.size(); ++i)
      if (static_cast<int>(nodes[i]->os) == os) return static_cast<int>(i);
    MART_CHECK(os >= 0, "host allocator: invalid NUMA node ", os);
    topo.node(static_cast<unsigned>(os));  // throws, naming the nodes that exist
    return -1;
  }

  Shard& shard(const void* p) {
    uint64_t h = (reinterpret_cast<uintptr_t>(p) >> 6) * 0x9E3779B97F4A7C15ull;
    return live[h >> 58];
  }

  // ------------------------------------------------------------------ pinned budget

  [[noreturn]] void exhausted(const NodeState& ns, uint64_t requested, uint64_t slab_len,
                              const std::string& cause) {
    throw PinnedHostExhausted(str(
        "pinned host memory exhausted: requested ", format_bytes(requested), " on NUMA node ",
        ns.os, " (needs a new slab of ", format_bytes(slab_len), "), in use ",
        format_bytes(in_use.now()), " in ", live_blocks.now(), " blocks, reserved ",
        format_bytes(reserved.now()), " of limit ",
        opts.pinned_limit ? format_bytes(opts.pinned_limit) : std::string("none"), ": ", cause,
        ". This is host memory, not device memory: raise memory.host_pinned_limit (or the "
        "OS locked-memory limit, ulimit -l) or keep less in host memory (fewer offloaded chunks "
        "or swapped activation blocks)"));
  }

  void reserve(NodeState& ns, uint64_t len, uint64_t requested) {
    if (opts.pinned_limit == 0) {
      reserved.add(len);
    } else if (!reserved.try_add(len, opts.pinned_limit)) {
      // Cached dedicated slabs are the only reclaimable reservation; give them back and retry.
      trim();
      if (!reserved.try_add(len, opts.pinned_limit))
        exhausted(ns, requested, len, "the limit would be exceeded");
    }
    ns.reserved.add(len);
  }

  void unreserve(NodeState& ns, uint64_t len) {
    reserved.sub(len);
    ns.reserved.sub(len);
  }

  // ------------------------------------------------------------------ slabs

  // Maps, binds and registers a slab of `len` bytes on node `idx`, outside any jemalloc hook.
  Slab* map_slab(int idx, uint64_t len, SlabKind kind, uint64_t requested) {
    NodeState& ns = *nodes[idx];
    reserve(ns, len, requested);
    // 2 MiB alignment lets transparent huge pages back the slab and suits jemalloc's metadata.
    uint64_t align = len >= kHugePage ? kHugePage : page_size();
    uint64_t map_len = len + align - page_size();
    void* raw = mmap(nullptr, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) {
      int e = errno;
      unreserve(ns, len);
      exhausted(ns, requested, len, str("mmap failed (", std::strerror(e), ")"));
    }
    char* base = reinterpret_cast<char*>(round_up(reinterpret_cast<uintptr_t>(raw), align));
    uint64_t head = static_cast<uint64_t>(base - static_cast<char*>(raw));
    if (head) munmap(raw, head);
    if (map_len - head > len) munmap(base + len, map_len - head - len);
    if (opts.transparent_huge_pages && len >= kHugePage) madvise(base, len, MADV_HUGEPAGE);

    // Before the first touch (registration faults the pages in), so pages land on the node.
    BindResult bind = topo.bind_memory(base, len, ns.os);
    {
      std::lock_guard<std::mutex> lock(ns.mu);
      if (!bind.strict || ns.membind.empty()) ns.membind = bind.detail;
    }
    if (!bind.strict) warn(str("NUMA node ", ns.os, ": ", bind.detail));

    auto slab = std::make_unique<Slab>();
    slab->base = base;
    slab->len = len;
    slab->node = idx;
    slab->kind = kind;
    if (pin) {
#ifdef MART_HAVE_CUDA
      cudaError_t err = cudaHostRegister(base, len, cudaHostRegisterPortable);
      if (err != cudaSuccess) {
        cudaGetLastError();  // registration errors are not sticky; clear for later calls
        munmap(base, len);
        unreserve(ns, len);
        exhausted(ns, requested, len,
                  str("cudaHostRegister failed (", cudaGetErrorName(err), ": ",
                      cudaGetErrorString(err), ")"));
      }
      slab->registered = true;
      pinned.add(len);
      ns.pinned.add(len);
#endif
    }
    Slab* out = slab.get();
    std::unique_lock<std::shared_mutex> lock(slabs_mu);
    slabs.emplace(reinterpret_cast<uintptr_t>(base), std::move(slab));
    return out;
  }

  void release_slab(Slab* s) {
    std::unique_ptr<Slab> owned;
    {
      std::unique_lock<std::shared_mutex> lock(slabs_mu);
      auto it = slabs.find(reinterpret_cast<uintptr_t>(s->base));
      MART_CHECK(it != slabs.end(), "internal: releasing an unknown slab");
      owned = std::move(it->second);
      slabs.erase(it);
    }
    NodeState& ns = *nodes[owned->node];
#ifdef MART_HAVE_CUDA
    if (owned->registered) {
      cudaHostUnregister(owned->base);
      cudaGetLastError();
    }
#endif
    if (owned->registered) {
      pinned.sub(owned->len);
      ns.pinned.sub(owned->len);
    }
    munmap(owned->base, owned->len);
    unreserve(ns, owned->len);
  }

  const Slab* slab_containing(uintptr_t p) const {  // caller holds slabs_mu
    auto it = slabs.upper_bound(p);
    if (it == slabs.begin()) return nullptr;
    --it;
    const Slab* s = it->second.get();
    return p < reinterpret_cast<uintptr_t>(s->base) + s->len ? s : nullptr;
  }

  // Room for one small block plus what jemalloc may need with it: the large-size page pad and a
  // fresh 2 MiB metadata block at 2 MiB alignment.
  uint64_t shared_slab_len(uint64_t bytes) const {
    uint64_t need = round_up(bytes + page_size() + 2 * kHugePage, kHugePage);
    uint64_t len = opts.slab_bytes;
    if (opts.pinned_limit) {
      // Near the limit, a smaller slab may still fit where a full one would not.
      uint64_t r = reserved.now();
      uint64_t left = r < opts.pinned_limit ? (opts.pinned_limit - r) / kHugePage * kHugePage : 0;
      if (left < len) len = std::max(left, need);
    }
    return std::max(len, need);
  }

  // ------------------------------------------------------------------ tiers

  SlabArena* arena_of(int idx, uint64_t bytes) {
    NodeState& ns = *nodes[idx];
    if (SlabArena* a = ns.arena_ptr.load(std::memory_order_acquire)) return a;
    std::lock_guard<std::mutex> lock(ns.grow_mu);
    if (ns.arena) return ns.arena.get();
    Slab* s = map_slab(idx, shared_slab_len(bytes), SlabKind::kShared, bytes);
    std::unique_ptr<SlabArena> a;
    std::string why;
    if (opts.backend != SmallBackend::kFirstFit) {
      // Grow requests at most a quarter slab, so they fit the tails of partly used slabs.
      uint64_t grow_limit = std::max<uint64_t>(opts.slab_bytes / 4, kHugePage);
      a = make_jemalloc_arena(s->base, s->len, grow_limit, &why);
      if (!a && opts.backend == SmallBackend::kJemalloc) {
        release_slab(s);
        MART_FAIL("jemalloc could not create a hooked arena for NUMA node ", ns.os, ": ", why,
                  "; use the first-fit backend (SmallBackend::kFirstFit) instead");
      }
      if (!a)
        warn(str("jemalloc arena unavailable (", why, "); using the first-fit allocator"));
      else if (!why.empty())
        warn(str("jemalloc arena of NUMA node ", ns.os, ": ", why));
    }
    if (!a) {
      // jemalloc refused at arenas.create and holds nothing in the slab: it is free to reuse.
      a = make_first_fit_arena();
      a->add_slab(s->base, s->len);
    }
    ns.shared_slabs.fetch_add(1);
    {
      std::lock_guard<std::mutex> info(info_mu);
      // Nodes normally share one backend; a mix (jemalloc refused on one node) lists both.
      std::string name = a->name();
      if (backend.find(name) == std::string::npos)
        backend = backend.empty() ? name : backend + " + " + name;
    }
    ns.arena = std::move(a);
    ns.arena_ptr.store(ns.arena.get(), std::memory_order_release);
    return ns.arena.get();
  }

  void* alloc_small(int idx, uint64_t bytes) {
    NodeState& ns = *nodes[idx];
    SlabArena* a = arena_of(idx, bytes);
    // Grow lazily: only a failed allocation adds a slab, because jemalloc often has room inside
    // extents it already holds, which no slab-level heuristic could see.
    // A miss after another thread grew is retried without growing again; this thread's own
    // growths are bounded, as a fresh slab always has room for one small block.
    for (int grown = 0;;) {
      uint64_t gen = ns.generation.load(std::memory_order_acquire);
      if (void* p = a->allocate(bytes)) return p;
      std::lock_guard<std::mutex> lock(ns.grow_mu);
      if (ns.generation.load(std::memory_order_acquire) != gen) continue;  // another thread grew
      MART_CHECK(grown < 8, "internal: the small-block arena of NUMA node ", ns.os, " (", a->name(),
                 ") could not place ", bytes, " bytes even after adding slabs");
      Slab* s = map_slab(idx, shared_slab_len(bytes), SlabKind::kShared, bytes);
      a->add_slab(s->base, s->len);
      ns.shared_slabs.fetch_add(1);
      ns.generation.fetch_add(1, std::memory_order_release);
      ++grown;
    }
  }

  void* alloc_dedicated(int idx, uint64_t bytes) {
    NodeState& ns = *nodes[idx];
    uint64_t len = round_up(bytes, page_size());
    if (opts.cache_dedicated) {
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
    Slab* s = map_slab(idx, len, SlabKind::kDedicated, bytes);
    ns.dedicated_slabs.fetch_add(1);
    return s->base;
  }

  void free_dedicated(int idx, void* p) {
    NodeState& ns = *nodes[idx];
    Slab* s = nullptr;
    {
      std::shared_lock<std::shared_mutex> lock(slabs_mu);
      auto it = slabs.find(reinterpret_cast<uintptr_t>(p));
      MART_CHECK(it != slabs.end(), "internal: dedicated block without its slab");
      s = it->second.get();
    }
    if (opts.cache_dedicated) {
      std::lock_guard<std::mutex> lock(ns.mu);
      s->cached = true;
      ns.cache.emplace(s->len, s);
      ns.cached.fetch_add(s->len);
      return;
    }
    release_slab(s);
    ns.dedicated_slabs.fetch_sub(1);
  }

  uint64_t trim() {
    uint64_t released = 0;
    for (auto& np : nodes) {
      std::vector<Slab*> victims;
      {
        std::lock_guard<std::mutex> lock(np->mu);
        for (auto& [len, s] : np->cache) victims.push_back(s);
        np->cache.clear();
      }
      for (Slab* s : victims) {
        np->cached.fetch_sub(s->len);
        np->dedicated_slabs.fetch_sub(1);
        released += s->len;
        release_slab(s);
      }
    }
    return released;
  }
};

// ==================================================================== HostAllocator

HostAllocator::HostAllocator(NumaTopology topology, HostAllocatorOptions options)
    : topo_(std::move(topology)), opts_(options) {
  MART_CHECK(opts_.slab_bytes % kHugePage == 0 && opts_.slab_bytes >= 4 * (1ull << 20),
             "host allocator: slab size ", opts_.slab_bytes,
             " must be a multiple of 2 MiB and at least 4 MiB");
  MART_CHECK(opts_.dedicated_threshold >= page_size(), "host allocator: dedicated threshold ",
             opts_.dedicated_threshold, " must be at least one page (", page_size(), " bytes)");
  MART_CHECK(opts_.slab_bytes >= 2 * opts_.dedicated_threshold + 4 * (1ull << 20),
             "host allocator: slab size ", format_bytes(opts_.slab_bytes),
             " must be at least twice the dedicated threshold (",
             format_bytes(opts_.dedicated_threshold), ") plus 4 MiB, so small blocks fit a slab");
  if (opts_.default_node < 0) {
    default_node_ = static_cast<int>(topo_.first_node());
  } else {
    topo_.node(static_cast<unsigned>(opts_.default_node));  // throws when it does not exist
    default_node_ = opts_.default_node;
  }
  impl_ = std::make_unique<Impl>(topo_, opts_);

#ifdef MART_HAVE_CUDA
  if (opts_.pin != PinMode::kOff) {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err == cudaSuccess && count > 0) {
      register_ = true;
    } else {
      cudaGetLastError();
      std::string why = err == cudaSuccess
                            ? std::string("no CUDA device")
                            : str(cudaGetErrorName(err), ": ", cudaGetErrorString(err));
      MART_CHECK(opts_.pin != PinMode::kRequire,
                 "host allocator: pinned memory required but cannot register with CUDA (", why,
                 ")");
      impl_->warn(str("host memory is not pinned (", why, "): copies will not be asynchronous"));
    }
  }
#else
  MART_CHECK(opts_.pin != PinMode::kRequire,
             "host allocator: pinned memory required but this is the CPU backend build; "
             "configure with -DMART_CUDA=ON or do not require pinning");
#endif
  impl_->pin = register_;
}

HostAllocator::~HostAllocator() {
  uint64_t live = impl_->live_blocks.now();
  if (live)
    std::fprintf(stderr, "mart: HostAllocator destroyed with %llu live block(s) (%s); released\n",
                 static_cast<unsigned long long>(live), format_bytes(impl_->in_use.now()).c_str());
  // Arenas first: destroying a jemalloc arena walks its extents and metadata, in the slabs.
  std::vector<bool> keep_shared(impl_->nodes.size(), false);
  for (size_t i = 0; i < impl_->nodes.size(); ++i) {
    NodeState& ns = *impl_->nodes[i];
    if (ns.arena && !ns.arena->release()) {
      // Unmapping would leave jemalloc with metadata in unmapped memory: leak the slabs instead.
      keep_shared[i] = true;
      std::fprintf(stderr,
                   "mart: jemalloc refused to destroy the host arena of NUMA node %u; its %s of "
                   "slabs stay mapped\n",
                   ns.os, format_bytes(ns.reserved.now()).c_str());
    }
    ns.arena_ptr.store(nullptr);
    if (!keep_shared[i])
      ns.arena.reset();
    else
      (void)ns.arena.release();  // its hook state must outlive any later jemalloc access
  }
  std::vector<Slab*> all;
  for (auto& [base, s] : impl_->slabs)
    if (!(s->kind == SlabKind::kShared && keep_shared[s->node])) all.push_back(s.get());
  for (Slab* s : all) impl_->release_slab(s);
}

void* HostAllocator::allocate(size_t bytes, int node) {
  if (bytes == 0) return nullptr;
  MART_CHECK(bytes <= kMaxRequest, "host allocation of ", bytes, " bytes is beyond any machine");
  int idx = impl_->node_index(node < 0 ? default_node_ : node);
  bool dedicated = bytes >= opts_.dedicated_threshold;
  void* p = dedicated ? impl_->alloc_dedicated(idx, bytes) : impl_->alloc_small(idx, bytes);
  {
    Shard& sh = impl_->shard(p);
    std::lock_guard<std::mutex> lock(sh.mu);
    bool inserted =
        sh.blocks.emplace(reinterpret_cast<uintptr_t>(p), Live{bytes, idx, dedicated}).second;
    MART_CHECK(inserted, "internal: host allocator handed out live block ", p, " twice");
  }
  NodeState& ns = *impl_->nodes[idx];
  ns.in_use.add(bytes);
  ns.live_blocks.add(1);
  ns.allocations.fetch_add(1, std::memory_order_relaxed);
  impl_->in_use.add(bytes);
  impl_->live_blocks.add(1);
  return p;
}

void HostAllocator::deallocate(void* p) {
  if (p == nullptr) return;
  Live b{};
  {
    Shard& sh = impl_->shard(p);
    std::lock_guard<std::mutex> lock(sh.mu);
    auto it = sh.blocks.find(reinterpret_cast<uintptr_t>(p));
    MART_CHECK(it != sh.blocks.end(), "host allocator: freeing ", p,
               ", which is not a live block of this allocator (double free, or memory from "
               "another allocator)");
    b = it->second;
    sh.blocks.erase(it);  // before the memory is returned (see the invariants)
  }
  if (b.dedicated)
    impl_->free_dedicated(b.node, p);
  else
    impl_->nodes[b.node]->arena_ptr.load(std::memory_order_acquire)->deallocate(p, b.bytes);
  NodeState& ns = *impl_->nodes[b.node];
  ns.in_use.sub(b.bytes);
  ns.live_blocks.sub(1);
  ns.frees.fetch_add(1, std::memory_order_relaxed);
  impl_->in_use.sub(b.bytes);
  impl_->live_blocks.sub(1);
}

int HostAllocator::node_of(const void* p) const {
  std::shared_lock<std::shared_mutex> lock(impl_->slabs_mu);
  const Slab* s = impl_->slab_containing(reinterpret_cast<uintptr_t>(p));
  return s ? static_cast<int>(impl_->nodes[s->node]->os) : -1;
}

size_t HostAllocator::block_size(const void* p) const {
  Shard& sh = impl_->shard(p);
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = sh.blocks.find(reinterpret_cast<uintptr_t>(p));
  MART_CHECK(it != sh.blocks.end(), "host allocator: ", p, " is not a live block");
  return it->second.bytes;
}

uint64_t HostAllocator::trim() {
  return impl_->trim();
}

HostAllocatorStats HostAllocator::stats() const {
  HostAllocatorStats st;
  st.pinned_limit = opts_.pinned_limit;
  st.registered = register_;
  {
    std::lock_guard<std::mutex> lock(impl_->info_mu);
    st.warnings = impl_->warnings;
    st.backend =
        impl_->backend.empty() ? std::string("(no small-block arena yet)") : impl_->backend;
  }
  for (auto& np : impl_->nodes) {
    NodeState& ns = *np;
    HostPoolStats n;
    n.node = static_cast<int>(ns.os);
    n.in_use = ns.in_use.now();
    n.peak_in_use = ns.in_use.max();
    n.reserved = ns.reserved.now();
    n.peak_reserved = ns.reserved.max();
    n.pinned = ns.pinned.now();
    n.peak_pinned = ns.pinned.max();
    if (SlabArena* a = ns.arena_ptr.load(std::memory_order_acquire))
      n.arena_carved = a->carved_bytes();
    n.cached = ns.cached.load();
    n.live_blocks = ns.live_blocks.now();
    n.peak_live_blocks = ns.live_blocks.max();
    n.allocations = ns.allocations.load();
    n.frees = ns.frees.load();
    n.dedicated_reuses = ns.reuses.load();
    n.shared_slabs = ns.shared_slabs.load();
    n.dedicated_slabs = ns.dedicated_slabs.load();
    {
      std::lock_guard<std::mutex> lock(ns.mu);
      n.membind = ns.membind;
    }
    if (n.allocations == 0 && n.peak_reserved == 0) continue;  // never used
    HostPoolStats& t = st.total;
    t.arena_carved += n.arena_carved;
    t.cached += n.cached;
    t.allocations += n.allocations;
    t.frees += n.frees;
    t.dedicated_reuses += n.dedicated_reuses;
    t.shared_slabs += n.shared_slabs;
    t.dedicated_slabs += n.dedicated_slabs;
    st.nodes.push_back(std::move(n));
  }
  // Totals and their peaks come from global gauges: the sum of per-node peaks is not a peak.
  st.total.in_use = impl_->in_use.now();
  st.total.peak_in_use = impl_->in_use.max();
  st.total.reserved = impl_->reserved.now();
  st.total.peak_reserved = impl_->reserved.max();
  st.total.pinned = impl_->pinned.now();
  st.total.peak_pinned = impl_->pinned.max();
  st.total.live_blocks = impl_->live_blocks.now();
  st.total.peak_live_blocks = impl_->live_blocks.max();
  return st;
}

void HostAllocator::reset_peaks() {
  for (Gauge* g : {&impl_->in_use, &impl_->reserved, &impl_->pinned, &impl_->live_blocks})
    g->reset_peak();
  for (auto& np : impl_->nodes)
    for (Gauge* g : {&np->in_use, &np->reserved, &np->pinned, &np->live_blocks}) g->reset_peak();
}

void HostAllocator::check_invariants() const {
  struct Block {
    uintptr_t p;
    Live b;
  };
  std::vector<Block> blocks;
  for (Shard& sh : impl_->live) {
    std::lock_guard<std::mutex> lock(sh.mu);
    for (auto& [p, b] : sh.blocks) blocks.push_back({p, b});
  }
  std::shared_lock<std::shared_mutex> lock(impl_->slabs_mu);
  size_t n = impl_->nodes.size();
  std::vector<uint64_t> in_use(n), count(n), reserved(n), pinned(n), cached(n);

  // I1 (slabs are disjoint), I3 (slab sums)
  uintptr_t prev_end = 0;
  for (auto& [base, s] : impl_->slabs) {
    MART_CHECK(base >= prev_end, "invariant: slab at ", s->base, " overlaps the previous slab");
    prev_end = base + s->len;
    reserved[s->node] += s->len;
    if (s->registered) pinned[s->node] += s->len;
    if (s->cached) cached[s->node] += s->len;
  }
  // I1, I2 per block
  for (const Block& blk : blocks) {
    const Slab* s = impl_->slab_containing(blk.p);
    MART_CHECK(s != nullptr, "invariant: live block ", reinterpret_cast<void*>(blk.p),
               " lies in no slab");
    uintptr_t base = reinterpret_cast<uintptr_t>(s->base);
    MART_CHECK(blk.p + blk.b.bytes <= base + s->len, "invariant: live block ",
               reinterpret_cast<void*>(blk.p), " of ", blk.b.bytes, " bytes runs past its slab");
    MART_CHECK(s->node == blk.b.node, "invariant: block ", reinterpret_cast<void*>(blk.p),
               " of node ", impl_->nodes[blk.b.node]->os, " lies in a slab of node ",
               impl_->nodes[s->node]->os);
    if (blk.b.dedicated) {
      MART_CHECK(s->kind == SlabKind::kDedicated && blk.p == base && !s->cached &&
                     s->len == round_up(blk.b.bytes, page_size()),
                 "invariant: dedicated block ", reinterpret_cast<void*>(blk.p),
                 " does not own an exact-size slab");
    } else {
      SlabArena* a = impl_->nodes[blk.b.node]->arena_ptr.load();
      MART_CHECK(s->kind == SlabKind::kShared && a && a->owns(reinterpret_cast<void*>(blk.p)) &&
                     blk.p % SlabArena::kAlignment == 0,
                 "invariant: small block ", reinterpret_cast<void*>(blk.p),
                 " is not an aligned block of its node's arena");
    }
    in_use[blk.b.node] += blk.b.bytes;
    count[blk.b.node] += 1;
  }
  // No overlap between live blocks.
  std::sort(blocks.begin(), blocks.end(), [](const Block& a, const Block& b) { return a.p < b.p; });
  for (size_t i = 1; i < blocks.size(); ++i)
    MART_CHECK(blocks[i - 1].p + blocks[i - 1].b.bytes <= blocks[i].p, "invariant: live blocks ",
               reinterpret_cast<void*>(blocks[i - 1].p), " and ",
               reinterpret_cast<void*>(blocks[i].p), " overlap");
  // I3 against the counters, I4
  uint64_t t_in_use = 0, t_count = 0, t_reserved = 0, t_pinned = 0;
  for (size_t i = 0; i < n; ++i) {
    NodeState& ns = *impl_->nodes[i];
    MART_CHECK(ns.in_use.now() == in_use[i] && ns.live_blocks.now() == count[i], "invariant: node ",
               ns.os, " counts ", ns.in_use.now(), " bytes in ", ns.live_blocks.now(),
               " blocks, live blocks sum to ", in_use[i], " in ", count[i]);
    MART_CHECK(ns.reserved.now() == reserved[i] && ns.pinned.now() == pinned[i] &&
                   ns.cached.load() == cached[i],
               "invariant: node ", ns.os, " slab accounting is off (reserved ", ns.reserved.now(),
               " vs ", reserved[i], ", pinned ", ns.pinned.now(), " vs ", pinned[i], ", cached ",
               ns.cached.load(), " vs ", cached[i], ")");
    t_in_use += in_use[i];
    t_count += count[i];
    t_reserved += reserved[i];
    t_pinned += pinned[i];
  }
  MART_CHECK(impl_->in_use.now() == t_in_use && impl_->live_blocks.now() == t_count &&
                 impl_->reserved.now() == t_reserved && impl_->pinned.now() == t_pinned,
             "invariant: total counters disagree with the per-node sums");
  MART_CHECK(opts_.pinned_limit == 0 || t_reserved <= opts_.pinned_limit, "invariant: reserved ",
             t_reserved, " exceeds the pinned limit ", opts_.pinned_limit);
}

std::string to_string(const HostAllocatorStats& st) {
  auto line = [](const HostPoolStats& n) {
    return str("in use ", format_bytes(n.in_use), " (peak ", format_bytes(n.peak_in_use), ") in ",
               n.live_blocks, " blocks (peak ", n.peak_live_blocks, "); reserved ",
               format_bytes(n.reserved), " (peak ", format_bytes(n.peak_reserved), ": ",
               n.shared_slabs, " shared + ", n.dedicated_slabs, " dedicated slabs, ",
               format_bytes(n.cached), " cached); pinned ", format_bytes(n.pinned), " (peak ",
               format_bytes(n.peak_pinned), "); arena carved ", format_bytes(n.arena_carved), "; ",
               n.allocations, " allocs, ", n.frees, " frees, ", n.dedicated_reuses,
               " dedicated reuses");
  };
  std::string s =
      str("host allocator [", st.backend, "; ", st.registered ? "pinned" : "not pinned", "; limit ",
          st.pinned_limit ? format_bytes(st.pinned_limit) : std::string("none"), "]\n");
  for (const HostPoolStats& n : st.nodes)
    s += str("  node ", n.node, ": ", line(n), "; ",
             n.membind.empty() ? std::string("no memory bound yet") : n.membind, "\n");
  s += str("  total: ", line(st.total), "\n");
  for (const std::string& w : st.warnings) s += str("  warning: ", w, "\n");
  return s;
}

}  // namespace mart
