// HostAllocator::check_invariants(): verifies I1-I4 (listed in host_allocator_impl.h, each written
// out next to the code that maintains it) against a snapshot of the live blocks and the slab
// registry, and throws mart::Error naming the first violation.
#include "memory/host_allocator.h"

#include <algorithm>

#include "memory/host_allocator_impl.h"

namespace mart {

using host_detail::LiveBlock;
using host_detail::page_size;
using host_detail::round_up;
using host_detail::Slab;
using host_detail::SlabKind;

void HostAllocator::check_invariants() const {
  struct Block {
    uintptr_t p;
    LiveBlock b;
  };
  std::vector<Block> blocks;
  for (auto& [p, b] : impl_->live.snapshot()) blocks.push_back({p, b});
  const host_detail::SlabMap& slabs = impl_->slabs;
  auto lock = slabs.lock_shared();
  size_t n = slabs.num_nodes();
  std::vector<uint64_t> in_use(n), count(n), reserved(n), pinned(n), cached(n);

  // I1 (slabs are disjoint), I3 (slab sums)
  uintptr_t prev_end = 0;
  for (auto& [base, s] : slabs.slabs()) {
    MART_CHECK(base >= prev_end, "invariant: slab at ", s->base, " overlaps the previous slab");
    prev_end = base + s->len;
    reserved[s->node] += s->len;
    if (s->registered) pinned[s->node] += s->len;
    if (s->cached) cached[s->node] += s->len;
  }
  // I1, I2 per block
  for (const Block& blk : blocks) {
    const Slab* s = slabs.containing(blk.p);
    MART_CHECK(s != nullptr, "invariant: live block ", reinterpret_cast<void*>(blk.p),
               " lies in no slab");
    uintptr_t base = reinterpret_cast<uintptr_t>(s->base);
    MART_CHECK(blk.p + blk.b.bytes <= base + s->len, "invariant: live block ",
               reinterpret_cast<void*>(blk.p), " of ", blk.b.bytes, " bytes runs past its slab");
    MART_CHECK(s->node == blk.b.node, "invariant: block ", reinterpret_cast<void*>(blk.p),
               " of node ", slabs.os(blk.b.node), " lies in a slab of node ", slabs.os(s->node));
    if (blk.b.dedicated) {
      MART_CHECK(s->kind == SlabKind::kDedicated && blk.p == base && !s->cached &&
                     s->len == round_up(blk.b.bytes, page_size()),
                 "invariant: dedicated block ", reinterpret_cast<void*>(blk.p),
                 " does not own an exact-size slab");
    } else {
      SlabArena* a = impl_->small.arena(blk.b.node);
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
    int node = static_cast<int>(i);
    unsigned os = slabs.os(node);
    const host_detail::Gauge& node_in_use = impl_->live.in_use(node);
    const host_detail::Gauge& node_count = impl_->live.count(node);
    MART_CHECK(node_in_use.now() == in_use[i] && node_count.now() == count[i], "invariant: node ",
               os, " counts ", node_in_use.now(), " bytes in ", node_count.now(),
               " blocks, live blocks sum to ", in_use[i], " in ", count[i]);
    const host_detail::Gauge& node_reserved = slabs.reserved(node);
    const host_detail::Gauge& node_pinned = slabs.pinned(node);
    uint64_t node_cached = impl_->dedicated.cached(node);
    MART_CHECK(node_reserved.now() == reserved[i] && node_pinned.now() == pinned[i] &&
                   node_cached == cached[i],
               "invariant: node ", os, " slab accounting is off (reserved ", node_reserved.now(),
               " vs ", reserved[i], ", pinned ", node_pinned.now(), " vs ", pinned[i], ", cached ",
               node_cached, " vs ", cached[i], ")");
    t_in_use += in_use[i];
    t_count += count[i];
    t_reserved += reserved[i];
    t_pinned += pinned[i];
  }
  MART_CHECK(impl_->live.in_use().now() == t_in_use && impl_->live.count().now() == t_count &&
                 slabs.reserved().now() == t_reserved && slabs.pinned().now() == t_pinned,
             "invariant: total counters disagree with the per-node sums");
  MART_CHECK(opts_.pinned_limit == 0 || t_reserved <= opts_.pinned_limit, "invariant: reserved ",
             t_reserved, " exceeds the pinned limit ", opts_.pinned_limit);
}

}  // namespace mart
