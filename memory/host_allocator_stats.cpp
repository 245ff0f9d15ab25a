// HostAllocator's statistics: each pool fills in its own counters per node (LiveBlocks: in_use,
// live_blocks, allocations, frees; SlabMap: reserved, pinned, membind; SmallBlockPool:
// arena_carved, shared_slabs; DedicatedPool: cached, dedicated_reuses, dedicated_slabs), and the
// text form of the result.
#include "memory/host_allocator.h"

#include "common/units.h"
#include "memory/host_allocator_impl.h"

namespace mart {

HostAllocatorStats HostAllocator::stats() const {
  HostAllocatorStats st;
  st.pinned_limit = opts_.pinned_limit;
  st.registered = register_;
  st.warnings = impl_->warnings.all();
  st.backend = impl_->small.backend();
  if (st.backend.empty()) st.backend = "(no small-block arena yet)";
  for (int i = 0; i < static_cast<int>(impl_->slabs.num_nodes()); ++i) {
    HostPoolStats n;
    n.node = static_cast<int>(impl_->slabs.os(i));
    impl_->live.node_stats(i, n);
    impl_->slabs.node_stats(i, n);
    impl_->small.node_stats(i, n);
    impl_->dedicated.node_stats(i, n);
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
  st.total.in_use = impl_->live.in_use().now();
  st.total.peak_in_use = impl_->live.in_use().max();
  st.total.reserved = impl_->slabs.reserved().now();
  st.total.peak_reserved = impl_->slabs.reserved().max();
  st.total.pinned = impl_->slabs.pinned().now();
  st.total.peak_pinned = impl_->slabs.pinned().max();
  st.total.live_blocks = impl_->live.count().now();
  st.total.peak_live_blocks = impl_->live.count().max();
  return st;
}

void HostAllocator::reset_peaks() {
  impl_->live.reset_peaks();
  impl_->slabs.reset_peaks();
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
