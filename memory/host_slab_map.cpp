#include "memory/host_slab_map.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "common/units.h"
#include "device/cuda_backend.h"

namespace mart::host_detail {

uint64_t page_size() {
  static const uint64_t p = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  return p;
}

SlabMap::SlabMap(const NumaTopology& topo, const HostAllocatorOptions& opts, const LiveBlocks& live,
                 WarningLog& warnings)
    : topo_(topo), opts_(opts), live_(live), warnings_(warnings), nodes_(topo.nodes().size()) {
  for (size_t i = 0; i < nodes_.size(); ++i) nodes_[i].os = topo.nodes()[i].os_index;
}

// ------------------------------------------------------------------ pinned budget (I4)

void SlabMap::exhausted(int node, uint64_t requested, uint64_t slab_len,
                        const std::string& cause) const {
  throw PinnedHostExhausted(
      str("pinned host memory exhausted: requested ", format_bytes(requested), " on NUMA node ",
          nodes_[node].os, " (needs a new slab of ", format_bytes(slab_len), "), in use ",
          format_bytes(live_.in_use().now()), " in ", live_.count().now(), " blocks, reserved ",
          format_bytes(reserved_.now()), " of limit ",
          opts_.pinned_limit ? format_bytes(opts_.pinned_limit) : std::string("none"), ": ", cause,
          ". This is host memory, not device memory: raise memory.host_pinned_limit (or the "
          "OS locked-memory limit, ulimit -l) or keep less in host memory (fewer offloaded chunks "
          "or swapped activation blocks)"));
}

// I4: the total is raised only by a try_add under the limit, so it never passes it.
void SlabMap::reserve(int node, uint64_t len, uint64_t requested) {
  if (opts_.pinned_limit == 0) {
    reserved_.add(len);
  } else if (!reserved_.try_add(len, opts_.pinned_limit)) {
    // Cached dedicated slabs are the only reclaimable reservation; give them back and retry.
    if (reclaim_) reclaim_();
    if (!reserved_.try_add(len, opts_.pinned_limit))
      exhausted(node, requested, len, "the limit would be exceeded");
  }
  nodes_[node].reserved.add(len);
}

void SlabMap::unreserve(int node, uint64_t len) {
  reserved_.sub(len);
  nodes_[node].reserved.sub(len);
}

// ------------------------------------------------------------------ mapping

Slab* SlabMap::map(int node, uint64_t len, SlabKind kind, uint64_t requested) {
  Node& ns = nodes_[node];
  reserve(node, len, requested);
  // 2 MiB alignment lets transparent huge pages back the slab and suits jemalloc's metadata.
  uint64_t align = len >= kHugePage ? kHugePage : page_size();
  uint64_t map_len = len + align - page_size();
  void* raw = mmap(nullptr, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    int e = errno;
    unreserve(node, len);
    exhausted(node, requested, len, str("mmap failed (", std::strerror(e), ")"));
  }
  char* base = reinterpret_cast<char*>(round_up(reinterpret_cast<uintptr_t>(raw), align));
  uint64_t head = static_cast<uint64_t>(base - static_cast<char*>(raw));
  if (head) munmap(raw, head);
  if (map_len - head > len) munmap(base + len, map_len - head - len);
  if (opts_.transparent_huge_pages && len >= kHugePage) madvise(base, len, MADV_HUGEPAGE);

  // Before the first touch (registration faults the pages in), so pages land on the node.
  BindResult bind = topo_.bind_memory(base, len, ns.os);
  {
    std::lock_guard<std::mutex> lock(ns.membind_mu);
    if (!bind.strict || ns.membind.empty()) ns.membind = bind.detail;
  }
  if (!bind.strict) warnings_.add(str("NUMA node ", ns.os, ": ", bind.detail));

  auto slab = std::make_unique<Slab>();
  slab->base = base;
  slab->len = len;
  slab->node = node;
  slab->kind = kind;
  if (pin_) {
    // pin_ is set only once the CUDA backend has loaded (HostAllocator's constructor).
    const std::string err = require_cuda_backend("pinned host memory").host_register(base, len);
    if (!err.empty()) {
      munmap(base, len);
      unreserve(node, len);
      exhausted(node, requested, len, str("cudaHostRegister failed (", err, ")"));
    }
    slab->registered = true;
    pinned_.add(len);
    ns.pinned.add(len);
  }
  Slab* out = slab.get();
  std::unique_lock<std::shared_mutex> lock(mu_);
  slabs_.emplace(reinterpret_cast<uintptr_t>(base), std::move(slab));
  return out;
}

void SlabMap::release(Slab* s) {
  std::unique_ptr<Slab> owned;
  {
    std::unique_lock<std::shared_mutex> lock(mu_);
    auto it = slabs_.find(reinterpret_cast<uintptr_t>(s->base));
    MART_CHECK(it != slabs_.end(), "internal: releasing an unknown slab");
    owned = std::move(it->second);
    slabs_.erase(it);
  }
  Node& ns = nodes_[owned->node];
  if (owned->registered) require_cuda_backend("pinned host memory").host_unregister(owned->base);
  if (owned->registered) {
    pinned_.sub(owned->len);
    ns.pinned.sub(owned->len);
  }
  munmap(owned->base, owned->len);
  unreserve(owned->node, owned->len);
}

void SlabMap::release_all(const std::vector<bool>& keep_shared) {
  std::vector<Slab*> all;
  for (auto& [base, s] : slabs_)
    if (!(s->kind == SlabKind::kShared && keep_shared[s->node])) all.push_back(s.get());
  for (Slab* s : all) release(s);
}

// ------------------------------------------------------------------ lookups

Slab* SlabMap::starting_at(const void* p) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = slabs_.find(reinterpret_cast<uintptr_t>(p));
  return it == slabs_.end() ? nullptr : it->second.get();
}

int SlabMap::os_of(const void* p) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  const Slab* s = containing(reinterpret_cast<uintptr_t>(p));
  return s ? static_cast<int>(nodes_[s->node].os) : -1;
}

const Slab* SlabMap::containing(uintptr_t p) const {
  auto it = slabs_.upper_bound(p);
  if (it == slabs_.begin()) return nullptr;
  --it;
  const Slab* s = it->second.get();
  return p < reinterpret_cast<uintptr_t>(s->base) + s->len ? s : nullptr;
}

// ------------------------------------------------------------------ stats

void SlabMap::node_stats(int node, HostPoolStats& out) const {
  const Node& ns = nodes_[node];
  out.reserved = ns.reserved.now();
  out.peak_reserved = ns.reserved.max();
  out.pinned = ns.pinned.now();
  out.peak_pinned = ns.pinned.max();
  std::lock_guard<std::mutex> lock(ns.membind_mu);
  out.membind = ns.membind;
}

void SlabMap::reset_peaks() {
  reserved_.reset_peak();
  pinned_.reset_peak();
  for (Node& ns : nodes_) {
    ns.reserved.reset_peak();
    ns.pinned.reset_peak();
  }
}

}  // namespace mart::host_detail
