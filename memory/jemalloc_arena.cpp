#include "memory/jemalloc_arena.h"

// Debian builds jemalloc without a symbol prefix (mallocx, mallctl, ...), other builds use je_ or
// a custom one. With JEMALLOC_NO_DEMANGLE the header keeps its je_* macros, which always name the
// real symbols whatever the prefix, so this file calls je_* only.
#define JEMALLOC_NO_DEMANGLE
#include <jemalloc/jemalloc.h>

// Weak references: the jemalloc arena is used when jemalloc is loaded in the process, and the
// first-fit arena otherwise. Why: Debian's jemalloc exports malloc and operator new unprefixed
// and needs static TLS, so libmart.so must not depend on it: it would become the malloc of only
// part of a C program that links libmart (memory from one allocator freed by the other: the
// process aborts), and dlopen of libmart (Python's ctypes) fails ("cannot allocate memory in
// static TLS block"). So libmart.so does not link jemalloc (MART_NO_JEMALLOC in CMakeLists.txt);
// `mart`, the tests and libmart.a's consumers do, and there these references resolve.
extern "C" {
decltype(je_mallctl) je_mallctl __attribute__((weak));
decltype(je_mallocx) je_mallocx __attribute__((weak));
decltype(je_sdallocx) je_sdallocx __attribute__((weak));
}

#include <atomic>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>

#include "common/error.h"

namespace mart {

bool jemalloc_loaded() {
  return &je_mallctl != nullptr && &je_mallocx != nullptr && &je_sdallocx != nullptr;
}

std::string jemalloc_version() {
  if (!jemalloc_loaded()) return "jemalloc (not loaded in this process)";
  const char* v = nullptr;
  size_t sz = sizeof(v);
  if (je_mallctl("version", &v, &sz, nullptr, 0) != 0 || v == nullptr) return "jemalloc (unknown)";
  return std::string("jemalloc ") + v;
}

namespace {

constexpr size_t kPage = 4096;  // jemalloc's page; extents are multiples of it

uintptr_t align_up(uintptr_t x, size_t a) {
  return (x + a - 1) & ~(uintptr_t(a) - 1);
}

// ---------------------------------------------------------------------------------------------
// jemalloc arena with extent hooks over pre-mapped slabs.
//
// Hook rules (they run inside jemalloc, under its arena locks):
//  - no malloc, no CUDA, no exceptions, no logging: only this file's mutex and plain arithmetic;
//  - alloc: bump-allocate inside a slab. Memory is never given back (dalloc refuses), so each byte
//    of a slab is handed out at most once and, coming straight from mmap, is still zero;
//  - dalloc/decommit/purge refuse: jemalloc keeps the extents (retained) and reuses them itself,
//    the slabs stay committed and registered (see create() for why decay is 0, not -1);
//  - split/merge only inside one slab: a block spanning two registrations would not be pinned as
//    one range, and adjacent slabs may belong to different mappings.
// ---------------------------------------------------------------------------------------------

struct HookSlab {
  char* base;
  size_t len;
  size_t used;  // [base, base + used) has been handed to jemalloc; guarded by HookState::mu
  HookSlab* next;
};

struct HookState;

// jemalloc passes back the extent_hooks_t pointer it was given; keeping the table first in a
// standard-layout struct lets the hooks find their state from it.
struct HookTable {
  extent_hooks_t table;
  HookState* state;
};
static_assert(std::is_standard_layout_v<HookTable>);

struct HookState {
  HookTable hooks;
  std::mutex mu;                    // leaf lock: taken inside hooks, nothing taken under it
  HookSlab* slabs = nullptr;        // newest first; nodes allocated outside the hooks
  std::atomic<uint64_t> carved{0};  // bytes handed to jemalloc, alignment gaps included
};

HookState* state_of(extent_hooks_t* h) {
  return reinterpret_cast<HookTable*>(h)->state;
}

// Caller holds st->mu.
HookSlab* slab_containing(HookState* st, uintptr_t a, size_t len) {
  for (HookSlab* s = st->slabs; s != nullptr; s = s->next) {
    uintptr_t b = reinterpret_cast<uintptr_t>(s->base);
    if (a >= b && a + len <= b + s->len) return s;
  }
  return nullptr;
}

void* hook_alloc(extent_hooks_t* h, void* new_addr, size_t size, size_t alignment, bool* zero,
                 bool* commit, unsigned /*arena_ind*/) {
  HookState* st = state_of(h);
  if (alignment < kPage) alignment = kPage;
  std::lock_guard<std::mutex> lock(st->mu);
  for (HookSlab* s = st->slabs; s != nullptr; s = s->next) {
    uintptr_t base = reinterpret_cast<uintptr_t>(s->base);
    uintptr_t top = base + s->used;
    // new_addr asks to extend an extent in place: possible only at a slab's bump top.
    uintptr_t p = new_addr ? reinterpret_cast<uintptr_t>(new_addr) : align_up(top, alignment);
    if (new_addr && (p != top || p % alignment != 0)) continue;
    if (p + size > base + s->len || p + size < p) continue;
    s->used = p + size - base;
    st->carved.fetch_add(p + size - top, std::memory_order_relaxed);
    *zero = true;    // fresh from mmap, never handed out before
    *commit = true;  // slabs are always committed (and pinned on CUDA builds)
    return reinterpret_cast<void*>(p);
  }
  return nullptr;  // jemalloc retries smaller or fails the allocation; the caller adds a slab
}

bool hook_dalloc(extent_hooks_t*, void*, size_t, bool, unsigned) {
  return true;
}  // keep it
void hook_destroy(extent_hooks_t*, void*, size_t, bool, unsigned) {}  // slabs unmapped by owner
bool hook_commit(extent_hooks_t*, void*, size_t, size_t, size_t, unsigned) {
  return false;
}
bool hook_decommit(extent_hooks_t*, void*, size_t, size_t, size_t, unsigned) {
  return true;
}
bool hook_purge(extent_hooks_t*, void*, size_t, size_t, size_t, unsigned) {
  return true;
}

bool hook_split(extent_hooks_t* h, void* addr, size_t size, size_t, size_t, bool, unsigned) {
  HookState* st = state_of(h);
  std::lock_guard<std::mutex> lock(st->mu);
  return slab_containing(st, reinterpret_cast<uintptr_t>(addr), size) == nullptr;
}

bool hook_merge(extent_hooks_t* h, void* addr_a, size_t size_a, void* addr_b, size_t size_b, bool,
                unsigned) {
  HookState* st = state_of(h);
  std::lock_guard<std::mutex> lock(st->mu);
  uintptr_t a = reinterpret_cast<uintptr_t>(addr_a);
  uintptr_t b = reinterpret_cast<uintptr_t>(addr_b);
  HookSlab* sa = slab_containing(st, a, size_a);
  return sa == nullptr || sa != slab_containing(st, b, size_b);  // true refuses
}

class JemallocSlabArena final : public SlabArena {
 public:
  JemallocSlabArena() {
    st_.hooks.table =
        extent_hooks_t{hook_alloc, hook_dalloc, hook_destroy, hook_commit, hook_decommit,
                       hook_purge, hook_purge,  hook_split,   hook_merge};
    st_.hooks.state = &st_;
  }

  ~JemallocSlabArena() override {
    release();
    HookSlab* s = st_.slabs;
    while (s) {
      HookSlab* next = s->next;
      delete s;
      s = next;
    }
  }

  // Creates the arena; false (with *why) when jemalloc refuses. On success *why may still name a
  // non-fatal problem.
  bool create(size_t retain_grow_limit, std::string* why) {
    extent_hooks_t* hooks = &st_.hooks.table;
    size_t sz = sizeof(ind_);
    int rc = je_mallctl("arenas.create", &ind_, &sz, &hooks, sizeof(hooks));
    if (rc != 0) {
      *why = str("mallctl(\"arenas.create\") with extent hooks failed: ", std::strerror(rc));
      return false;
    }
    created_ = true;
    // Decay 0, not -1 (docs/DESIGN.md §4: the usual advice is -1; the measurement disagrees).
    // With -1, freed large extents stay dirty forever, coalesce into big dirty extents, and
    // jemalloc 5.3 never splits a dirty extent more than 2^lg_extent_max_active_fit (64x) larger
    // than the request: a loop that allocates and frees the same 300 blocks of 64 B - 29 KiB grew
    // the arena by ~7 MiB per round (254 MiB after 50 rounds). With 0, each freed extent is
    // "purged" at once; as every purge/decommit/dalloc hook refuses, that only moves it to the
    // retained set, still committed and pinned, which jemalloc reuses without the fit limit: the
    // same loop stays at 10 MiB. Nothing is ever returned to the OS or unregistered either way. A
    // failure here is not fatal: the refusing hooks still keep every extent; only reuse of freed
    // large extents would suffer, so it is reported, not thrown.
    for (const char* knob : {"dirty_decay_ms", "muzzy_decay_ms"}) {
      ssize_t immediately = 0;
      std::string name = "arena." + std::to_string(ind_) + "." + knob;
      rc = je_mallctl(name.c_str(), nullptr, nullptr, &immediately, sizeof(immediately));
      if (rc != 0) *why = str("mallctl(\"", name, "\") = 0 failed: ", std::strerror(rc));
    }
    // Optional (absent when jemalloc runs without retain): keeps grow requests within a slab.
    std::string name = "arena." + std::to_string(ind_) + ".retain_grow_limit";
    je_mallctl(name.c_str(), nullptr, nullptr, &retain_grow_limit, sizeof(retain_grow_limit));
    flags_ = MALLOCX_ARENA(ind_) | MALLOCX_TCACHE_NONE | MALLOCX_ALIGN(kAlignment);
    return true;
  }

  bool release() override {
    if (!created_) return destroyed_;
    created_ = false;
    // Drops every extent of the arena (live blocks included) through the hooks, which refuse;
    // the slabs themselves are unmapped by the host allocator afterwards.
    std::string name = "arena." + std::to_string(ind_) + ".destroy";
    destroyed_ = je_mallctl(name.c_str(), nullptr, nullptr, nullptr, 0) == 0;
    return destroyed_;
  }

  void add_slab(char* base, size_t len) override {
    auto* s = new HookSlab{base, len, 0, nullptr};  // allocated here, never inside a hook
    std::lock_guard<std::mutex> lock(st_.mu);
    s->next = st_.slabs;
    st_.slabs = s;
  }

  // No thread cache: a block freed by any thread goes straight back to this arena (and so to its
  // node), and no cached blocks sit in per-thread bins where other nodes' threads cannot reach.
  void* allocate(size_t bytes) override { return je_mallocx(bytes, flags_); }
  void deallocate(void* p, size_t bytes) override { je_sdallocx(p, bytes, flags_); }

  uint64_t carved_bytes() const override { return st_.carved.load(std::memory_order_relaxed); }

  bool owns(const void* p) const override {
    unsigned ind = 0;
    size_t sz = sizeof(ind);
    const void* ptr = p;
    if (je_mallctl("arenas.lookup", &ind, &sz, const_cast<void**>(&ptr), sizeof(ptr)) != 0)
      return false;
    return ind == ind_;
  }

  std::string name() const override { return jemalloc_version() + " arenas with extent hooks"; }

 private:
  HookState st_;
  unsigned ind_ = 0;
  bool created_ = false;
  bool destroyed_ = true;  // no arena yet: nothing can touch the slabs
  int flags_ = 0;
};

// ---------------------------------------------------------------------------------------------
// First-fit fallback.
// Invariants (under mu_):
//  - free_ ranges are disjoint, kAlignment-aligned, each inside one slab;
//  - two free ranges touch only across a slab boundary (otherwise they are coalesced);
//  - live blocks + free ranges tile every slab exactly.
// ---------------------------------------------------------------------------------------------
class FirstFitSlabArena final : public SlabArena {
 public:
  bool release() override { return true; }  // keeps nothing inside the slabs

  void add_slab(char* base, size_t len) override {
    std::lock_guard<std::mutex> lock(mu_);
    uintptr_t b = reinterpret_cast<uintptr_t>(base);
    slabs_[b] = b + len;
    free_[b] = len;
  }

  void* allocate(size_t bytes) override {
    size_t n = round(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->second < n) continue;
      uintptr_t p = it->first;
      size_t rest = it->second - n;
      free_.erase(it);
      if (rest) free_[p + n] = rest;
      carved_ += n;
      return reinterpret_cast<void*>(p);
    }
    return nullptr;
  }

  void deallocate(void* ptr, size_t bytes) override {
    uintptr_t p = reinterpret_cast<uintptr_t>(ptr);
    size_t n = round(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    carved_ -= n;
    auto next = free_.lower_bound(p);
    if (next != free_.end() && next->first == p + n && !slabs_.count(p + n)) {
      n += next->second;
      next = free_.erase(next);
    }
    if (next != free_.begin()) {
      auto prev = std::prev(next);
      if (prev->first + prev->second == p && !slabs_.count(p)) {
        prev->second += n;
        return;
      }
    }
    free_[p] = n;
  }

  uint64_t carved_bytes() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return carved_;
  }

  bool owns(const void* ptr) const override {
    uintptr_t p = reinterpret_cast<uintptr_t>(ptr);
    std::lock_guard<std::mutex> lock(mu_);
    auto s = slabs_.upper_bound(p);
    if (s == slabs_.begin() || p >= std::prev(s)->second) return false;
    auto f = free_.upper_bound(p);
    return f == free_.begin() || p >= std::prev(f)->first + std::prev(f)->second;
  }

  std::string name() const override { return "first-fit free list"; }

 private:
  static size_t round(size_t bytes) { return (bytes + kAlignment - 1) & ~(kAlignment - 1); }

  mutable std::mutex mu_;
  std::map<uintptr_t, size_t> free_;      // start -> length
  std::map<uintptr_t, uintptr_t> slabs_;  // base -> end
  uint64_t carved_ = 0;
};

}  // namespace

std::unique_ptr<SlabArena> make_jemalloc_arena(char* first_slab, size_t first_slab_len,
                                               size_t retain_grow_limit, std::string* why) {
  if (!jemalloc_loaded()) {
    *why =
        "jemalloc is not loaded in this process (libmart.so does not link it; link jemalloc "
        "into the program, or LD_PRELOAD it, to use it)";
    return nullptr;
  }
  auto arena = std::make_unique<JemallocSlabArena>();
  arena->add_slab(first_slab, first_slab_len);
  if (!arena->create(retain_grow_limit, why)) return nullptr;
  return arena;
}

std::unique_ptr<SlabArena> make_first_fit_arena() {
  return std::make_unique<FirstFitSlabArena>();
}

}  // namespace mart
