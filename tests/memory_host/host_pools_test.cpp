// The host allocator's pieces on their own (memory/host_allocator_impl.h lists them): the live
// block registry, the slab map with its pinned budget, the dedicated pool's exact-size cache and
// the small-block pool's lazy growth, checked through their own counters rather than through
// HostAllocator's stats.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "memory/host_dedicated_pool.h"
#include "memory/host_live_blocks.h"
#include "memory/host_slab_map.h"
#include "memory/host_small_block_pool.h"

namespace mart::host_detail {
namespace {

constexpr uint64_t MiB = 1ull << 20;

HostAllocatorOptions pool_opts(SmallBackend backend = SmallBackend::kAuto) {
  HostAllocatorOptions o;
  o.slab_bytes = 8 * MiB;
  o.dedicated_threshold = 1 * MiB;
  o.pin = PinMode::kOff;
  o.backend = backend;
  return o;
}

// What HostAllocator::Impl wires together, for one test.
struct Pools {
  explicit Pools(NumaTopology t, HostAllocatorOptions o)
      : topo(std::move(t)),
        opts(o),
        live(topo.nodes().size()),
        slabs(topo, opts, live, warnings),
        dedicated(slabs, opts),
        small(slabs, opts, warnings) {
    slabs.set_reclaim([this] { return dedicated.trim(); });
  }
  ~Pools() { slabs.release_all(small.release_arenas()); }

  NumaTopology topo;
  HostAllocatorOptions opts;
  WarningLog warnings;
  LiveBlocks live;
  SlabMap slabs;
  DedicatedPool dedicated;
  SmallBlockPool small;
};

// ------------------------------------------------------------------ LiveBlocks

TEST(HostLiveBlocks, RecordsTakesAndCountsPerNode) {
  LiveBlocks live(2);
  char mem[256];
  LiveBlock a{100, 0, false}, b{28, 1, true};
  live.insert(mem, a);
  live.count_allocation(a);
  live.insert(mem + 128, b);
  live.count_allocation(b);
  EXPECT_THROW(live.insert(mem, a), Error);  // already live
  EXPECT_EQ(live.size_of(mem), 100u);
  EXPECT_EQ(live.size_of(mem + 128), 28u);
  EXPECT_THROW(live.size_of(mem + 1), Error);  // inside a block, not its start
  EXPECT_EQ(live.snapshot().size(), 2u);
  EXPECT_EQ(live.in_use().now(), 128u);
  EXPECT_EQ(live.count().now(), 2u);
  EXPECT_EQ(live.in_use(0).now(), 100u);
  EXPECT_EQ(live.in_use(1).now(), 28u);

  LiveBlock t = live.take(mem);
  EXPECT_EQ(t.bytes, 100u);
  EXPECT_EQ(t.node, 0);
  EXPECT_FALSE(t.dedicated);
  EXPECT_EQ(live.in_use().now(), 128u);  // counted only by count_free
  live.count_free(t);
  EXPECT_EQ(live.in_use().now(), 28u);
  EXPECT_EQ(live.in_use().max(), 128u);
  try {
    live.take(mem);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a live block of this allocator"), std::string::npos)
        << e.what();
  }
  HostPoolStats s0, s1;
  live.node_stats(0, s0);
  live.node_stats(1, s1);
  EXPECT_EQ(s0.allocations, 1u);
  EXPECT_EQ(s0.frees, 1u);
  EXPECT_EQ(s0.in_use, 0u);
  EXPECT_EQ(s0.peak_in_use, 100u);
  EXPECT_EQ(s1.live_blocks, 1u);
  live.reset_peaks();
  EXPECT_EQ(live.in_use().max(), 28u);
  EXPECT_EQ(live.in_use(0).max(), 0u);
}

// ------------------------------------------------------------------ SlabMap

TEST(HostSlabMap, MapsAlignedSlabsAndFindsTheirAddresses) {
  NumaTopology topo = NumaTopology::load_this_system();
  HostAllocatorOptions o = pool_opts();
  LiveBlocks live(topo.nodes().size());
  WarningLog warnings;
  SlabMap slabs(topo, o, live, warnings);
  uint64_t page = page_size();

  Slab* a = slabs.map(0, 3 * page, SlabKind::kDedicated, 3 * page - 5);
  EXPECT_EQ(a->len, 3 * page);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a->base) % page, 0u);
  EXPECT_EQ(a->node, 0);
  EXPECT_FALSE(a->registered);  // PinMode::kOff
  {
    auto lock = slabs.lock_shared();
    EXPECT_EQ(slabs.containing(reinterpret_cast<uintptr_t>(a->base) + a->len - 1), a);
    EXPECT_EQ(slabs.containing(reinterpret_cast<uintptr_t>(a->base) + a->len), nullptr);
    EXPECT_EQ(slabs.containing(reinterpret_cast<uintptr_t>(a->base) - 1), nullptr);
  }
  EXPECT_EQ(slabs.starting_at(a->base), a);
  EXPECT_EQ(slabs.starting_at(a->base + 64), nullptr);
  EXPECT_EQ(slabs.os_of(a->base + page), static_cast<int>(topo.first_node()));
  std::memset(a->base, 0xab, a->len);  // mapped and writable

  // Large slabs are 2 MiB-aligned (transparent huge pages, jemalloc metadata).
  Slab* b = slabs.map(0, 4 * MiB, SlabKind::kShared, 1000);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b->base) % kHugePage, 0u);
  EXPECT_EQ(slabs.reserved().now(), 3 * page + 4 * MiB);
  EXPECT_EQ(slabs.reserved(0).now(), 3 * page + 4 * MiB);
  EXPECT_EQ(slabs.pinned().now(), 0u);
  HostPoolStats s;
  slabs.node_stats(0, s);
  EXPECT_FALSE(s.membind.empty());  // strict, preferred, or why not

  char* a_base = a->base;
  slabs.release(a);
  EXPECT_EQ(slabs.os_of(a_base), -1);
  EXPECT_EQ(slabs.reserved().now(), 4 * MiB);
  slabs.release_all({false});
  EXPECT_EQ(slabs.reserved().now(), 0u);
  EXPECT_EQ(slabs.reserved().max(), 3 * page + 4 * MiB);
  EXPECT_TRUE(slabs.slabs().empty());
}

TEST(HostSlabMap, PinnedLimitReclaimsOnceThenFailsWithoutHoldingAnything) {
  NumaTopology topo = NumaTopology::load_this_system();
  HostAllocatorOptions o = pool_opts();
  o.pinned_limit = 8 * MiB;
  LiveBlocks live(topo.nodes().size());
  WarningLog warnings;
  SlabMap slabs(topo, o, live, warnings);
  int reclaims = 0;
  slabs.set_reclaim([&] {
    ++reclaims;
    return uint64_t{0};
  });
  Slab* six = slabs.map(0, 6 * MiB, SlabKind::kDedicated, 6 * MiB);
  try {
    slabs.map(0, 4 * MiB, SlabKind::kDedicated, 4 * MiB - 1);
    FAIL() << "expected PinnedHostExhausted";
  } catch (const PinnedHostExhausted& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("needs a new slab of 4.00 MiB"), std::string::npos) << m;
    EXPECT_NE(m.find("reserved 6.00 MiB of limit 8.00 MiB: the limit would be exceeded"),
              std::string::npos)
        << m;
  }
  EXPECT_EQ(reclaims, 1);
  EXPECT_EQ(slabs.reserved().now(), 6 * MiB);  // the refused slab left nothing behind
  EXPECT_EQ(slabs.reserved(0).now(), 6 * MiB);
  EXPECT_EQ(slabs.slabs().size(), 1u);

  // A reclaim that frees room lets the same request through, within the limit.
  slabs.set_reclaim([&] {
    slabs.release(six);
    return 6 * MiB;
  });
  Slab* four = slabs.map(0, 4 * MiB, SlabKind::kDedicated, 4 * MiB);
  EXPECT_EQ(slabs.reserved().now(), 4 * MiB);
  EXPECT_LE(slabs.reserved().max(), 8 * MiB);
  slabs.release(four);
}

TEST(HostSlabMap, UnboundNodesAreWarnedAboutOnce) {
  NumaTopology topo = NumaTopology::synthetic("numa:2 core:4 pu:1");
  HostAllocatorOptions o = pool_opts();
  LiveBlocks live(2);
  WarningLog warnings;
  SlabMap slabs(topo, o, live, warnings);
  Slab* a = slabs.map(1, page_size(), SlabKind::kDedicated, 1);
  Slab* b = slabs.map(1, page_size(), SlabKind::kDedicated, 1);
  EXPECT_EQ(slabs.os_of(b->base), 1);
  EXPECT_EQ(slabs.reserved(1).now(), 2 * page_size());
  EXPECT_EQ(slabs.reserved(0).now(), 0u);
  std::vector<std::string> w = warnings.all();
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("NUMA node 1: "), std::string::npos) << w[0];
  HostPoolStats s;
  slabs.node_stats(1, s);
  EXPECT_FALSE(s.membind.empty());
  slabs.release(a);
  slabs.release(b);
}

// ------------------------------------------------------------------ DedicatedPool

TEST(HostDedicatedPool, ReusesOnlyTheExactPageRoundedLength) {
  Pools pools(NumaTopology::load_this_system(), pool_opts());
  uint64_t page = page_size();
  uint64_t len = round_up(3 * MiB + 1, page);
  void* p = pools.dedicated.allocate(0, 3 * MiB + 1);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % page, 0u);
  EXPECT_EQ(pools.slabs.starting_at(p)->len, len);
  pools.dedicated.deallocate(0, p);
  EXPECT_TRUE(pools.slabs.starting_at(p)->cached);
  EXPECT_EQ(pools.dedicated.cached(0), len);

  // A page less or a page more: never the cached slab, which would waste or not fit.
  void* shorter = pools.dedicated.allocate(0, len - page);
  void* longer = pools.dedicated.allocate(0, len + 1);
  EXPECT_NE(shorter, p);
  EXPECT_NE(longer, p);
  EXPECT_EQ(pools.dedicated.cached(0), len);
  void* same = pools.dedicated.allocate(0, 3 * MiB + 2);  // rounds to the same length
  EXPECT_EQ(same, p);
  EXPECT_FALSE(pools.slabs.starting_at(p)->cached);
  EXPECT_EQ(pools.dedicated.cached(0), 0u);
  HostPoolStats s;
  pools.dedicated.node_stats(0, s);
  EXPECT_EQ(s.dedicated_reuses, 1u);
  EXPECT_EQ(s.dedicated_slabs, 3u);

  pools.dedicated.deallocate(0, same);
  pools.dedicated.deallocate(0, longer);
  pools.dedicated.deallocate(0, shorter);
  EXPECT_EQ(pools.dedicated.cached(0), 3 * len);
  EXPECT_EQ(pools.slabs.reserved().now(), 3 * len);
  EXPECT_EQ(pools.dedicated.trim(), 3 * len);
  EXPECT_EQ(pools.dedicated.trim(), 0u);
  EXPECT_EQ(pools.slabs.reserved().now(), 0u);
  pools.dedicated.node_stats(0, s);
  EXPECT_EQ(s.dedicated_slabs, 0u);
  EXPECT_EQ(s.cached, 0u);
}

TEST(HostDedicatedPool, WithoutTheCacheFreesUnmapAtOnce) {
  HostAllocatorOptions o = pool_opts();
  o.cache_dedicated = false;
  Pools pools(NumaTopology::load_this_system(), o);
  void* p = pools.dedicated.allocate(0, 2 * MiB);
  EXPECT_EQ(pools.slabs.reserved().now(), 2 * MiB);
  pools.dedicated.deallocate(0, p);
  EXPECT_EQ(pools.slabs.reserved().now(), 0u);
  EXPECT_EQ(pools.dedicated.cached(0), 0u);
  EXPECT_EQ(pools.slabs.starting_at(p), nullptr);
  EXPECT_EQ(pools.dedicated.trim(), 0u);
}

TEST(HostDedicatedPool, TheLimitTakesBackCachedSlabsBeforeFailing) {
  HostAllocatorOptions o = pool_opts();
  o.pinned_limit = 8 * MiB;
  Pools pools(NumaTopology::load_this_system(), o);
  void* six = pools.dedicated.allocate(0, 6 * MiB);
  pools.dedicated.deallocate(0, six);
  EXPECT_EQ(pools.dedicated.cached(0), 6 * MiB);
  void* four = pools.dedicated.allocate(0, 4 * MiB);  // over the limit unless the cache goes
  EXPECT_EQ(pools.dedicated.cached(0), 0u);
  EXPECT_EQ(pools.slabs.reserved().now(), 4 * MiB);
  void* more = pools.dedicated.allocate(0, 4 * MiB);
  EXPECT_THROW(pools.dedicated.allocate(0, 2 * MiB), PinnedHostExhausted);  // nothing to reclaim
  pools.dedicated.deallocate(0, four);
  pools.dedicated.deallocate(0, more);
}

// ------------------------------------------------------------------ SmallBlockPool

class HostSmallBlockPool : public ::testing::TestWithParam<SmallBackend> {};

TEST_P(HostSmallBlockPool, CreatesItsArenaLazilyAndGrowsOneSlabAtATime) {
  Pools pools(NumaTopology::synthetic("numa:2 core:4 pu:1"), pool_opts(GetParam()));
  SmallBlockPool& small = pools.small;
  EXPECT_EQ(small.arena(0), nullptr);
  EXPECT_EQ(small.backend(), "");
  EXPECT_EQ(pools.slabs.reserved().now(), 0u);

  const uint64_t n = 256 << 10;
  std::vector<void*> blocks;
  HostPoolStats s;
  for (int i = 0; i < 60; ++i) {  // 15 MiB: more than one 8 MiB slab holds
    void* p = small.allocate(1, n);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % SlabArena::kAlignment, 0u);
    EXPECT_TRUE(small.arena(1)->owns(p));
    std::memset(p, i, n);
    blocks.push_back(p);
  }
  {
    auto lock = pools.slabs.lock_shared();
    for (void* p : blocks) {
      const Slab* slab = pools.slabs.containing(reinterpret_cast<uintptr_t>(p));
      ASSERT_NE(slab, nullptr);
      EXPECT_EQ(slab->kind, SlabKind::kShared);
      EXPECT_EQ(slab->node, 1);
      EXPECT_LE(reinterpret_cast<uintptr_t>(p) + n,
                reinterpret_cast<uintptr_t>(slab->base) + slab->len);
    }
  }
  for (size_t i = 0; i < blocks.size(); ++i)
    EXPECT_EQ(static_cast<unsigned char*>(blocks[i])[n - 1], static_cast<unsigned char>(i));
  EXPECT_EQ(small.arena(0), nullptr);  // node 0 never asked
  small.node_stats(1, s);
  EXPECT_GE(s.shared_slabs, 2u);
  EXPECT_EQ(pools.slabs.reserved(1).now(), s.shared_slabs * 8 * MiB);  // all full-size slabs
  EXPECT_GE(s.arena_carved, blocks.size() * n);
  EXPECT_NE(small.backend().find(GetParam() == SmallBackend::kJemalloc ? "jemalloc" : "first-fit"),
            std::string::npos)
      << small.backend();
  for (void* p : blocks) small.deallocate(1, p, n);
}

TEST_P(HostSmallBlockPool, SlabsShrinkToWhatTheLimitLeaves) {
  HostAllocatorOptions o = pool_opts(GetParam());
  o.pinned_limit = 14 * MiB;  // one 8 MiB slab, then only 6 MiB are left
  Pools pools(NumaTopology::load_this_system(), o);
  const uint64_t n = 256 << 10;
  std::vector<void*> blocks;
  HostPoolStats s;
  bool exhausted = false;
  for (int i = 0; i < 100 && !exhausted; ++i) {
    try {
      blocks.push_back(pools.small.allocate(0, n));
    } catch (const PinnedHostExhausted&) {
      exhausted = true;
    }
    pools.small.node_stats(0, s);
    uint64_t expected = s.shared_slabs == 1 ? 8 * MiB : 14 * MiB;  // the second slab: 6 MiB
    EXPECT_EQ(pools.slabs.reserved().now(), expected) << s.shared_slabs << " shared slabs";
  }
  EXPECT_TRUE(exhausted);
  EXPECT_EQ(s.shared_slabs, 2u);
  EXPECT_EQ(pools.slabs.reserved().max(), 14 * MiB);
  for (void* p : blocks) pools.small.deallocate(0, p, n);
}

INSTANTIATE_TEST_SUITE_P(Backends, HostSmallBlockPool,
                         ::testing::Values(SmallBackend::kJemalloc, SmallBackend::kFirstFit),
                         [](const auto& info) {
                           return info.param == SmallBackend::kJemalloc ? std::string("Jemalloc")
                                                                        : std::string("FirstFit");
                         });

}  // namespace
}  // namespace mart::host_detail
