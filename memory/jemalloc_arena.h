// Sub-allocators for the small-block tier of the host allocator: one per NUMA node, carving
// blocks out of slabs the host allocator mapped, bound and pinned beforehand.
//
// - JemallocSlabArena (preferred): a dedicated jemalloc arena (arenas.create) whose extent hooks
//   serve extents from the slabs. jemalloc brings size classes, per-bin locking and fast reuse;
//   the hooks only bump-allocate inside slabs and never call CUDA or malloc, as hooks run under
//   jemalloc's locks (docs/DESIGN.md §4).
// - FirstFitSlabArena (fallback, when jemalloc cannot create a hooked arena): an address-ordered
//   first-fit free list with coalescing, exact to 64 bytes.
//
// Neither maps, binds or registers memory: add_slab() hands over memory that is ready to use, and
// allocate() returns nullptr when no slab has room, so the caller can add a slab (outside every
// jemalloc lock) and retry.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace mart {

class SlabArena {
 public:
  static constexpr size_t kAlignment = 64;  // every block starts on a cache line

  virtual ~SlabArena() = default;
  // Ends the arena (every block in it is gone). Returns false when the slabs must stay mapped
  // because the allocator may still read them (jemalloc refused to destroy the arena, whose
  // metadata lives in the slabs). Called once, before the slabs are unmapped.
  virtual bool release() = 0;
  // base/len: page-aligned, mapped, bound and (on CUDA) registered; the arena never unmaps it.
  // Thread-safe; must not be called from inside a jemalloc hook.
  virtual void add_slab(char* base, size_t len) = 0;
  // A block of at least `bytes` bytes, kAlignment-aligned; nullptr when the slabs are full.
  virtual void* allocate(size_t bytes) = 0;
  // `bytes` is the size passed to allocate(). Any thread.
  virtual void deallocate(void* p, size_t bytes) = 0;
  // Bytes taken out of the slabs so far (jemalloc: extents handed to jemalloc, its metadata
  // included, never returned; first-fit: live blocks rounded to kAlignment).
  virtual uint64_t carved_bytes() const = 0;
  // Whether p is a block of this arena (for invariant checks; may be slow).
  virtual bool owns(const void* p) const = 0;
  // The backend, the same for every arena of a kind ("jemalloc 5.3.0-... arenas with extent
  // hooks", "first-fit free list").
  virtual std::string name() const = 0;
};

// Creates a jemalloc arena over `first_slab` (jemalloc takes its arena metadata through the hooks
// at creation, so a slab must exist first). Returns nullptr and sets *why when the linked
// jemalloc refuses (e.g. built without extent hook support); the slab is then unused. On success
// *why is empty or names a non-fatal problem to report. retain_grow_limit caps the extents
// jemalloc asks for when it grows, so that they fit in one slab.
std::unique_ptr<SlabArena> make_jemalloc_arena(char* first_slab, size_t first_slab_len,
                                               size_t retain_grow_limit, std::string* why);
std::unique_ptr<SlabArena> make_first_fit_arena();

// "jemalloc 5.3.0-0-g54eaed1..." from the library actually linked (mallctl "version").
std::string jemalloc_version();
// Whether jemalloc is loaded in this process. libmart.so does not link it (jemalloc_arena.cpp
// says why); without it, make_jemalloc_arena refuses and the first-fit arena serves.
bool jemalloc_loaded();

}  // namespace mart
