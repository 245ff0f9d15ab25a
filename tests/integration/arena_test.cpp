// DeviceArena under random allocation/free sequences (invariants, statistics, reuse of freed
// space), its out-of-memory message, and the Trainer refusing a capacity below its budget.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "common/units.h"

#include "runtime/model/init.h"
#include "tests/integration/integ_util.h"

namespace mart::integ {
namespace {

TEST(Arena, RandomAllocFreeKeepsInvariants) {
  auto dev = make_cpu_device();
  const uint64_t cap = 1 << 20;
  DeviceArena arena(dev.get(), cap);
  std::mt19937_64 rng(11);
  std::vector<Region> live;
  uint64_t in_use = 0, peak = 0, failures = 0;
  for (int it = 0; it < 4000; ++it) {
    const bool do_alloc = live.empty() || rng() % 100 < 55;
    if (do_alloc) {
      const uint64_t bytes = 1 + rng() % (rng() % 4 == 0 ? 65536 : 4096);
      try {
        Region r = arena.alloc(bytes, rng() % 2 ? "a" : "b");
        ASSERT_EQ(r.bytes, arena_round(bytes));
        ASSERT_EQ(r.offset % DeviceArena::kAlign, 0u);
        ASSERT_TRUE(arena.contains(r.ptr, r.bytes));
        ASSERT_EQ(static_cast<char*>(r.ptr), static_cast<char*>(arena.base()) + r.offset);
        // Fresh regions never overlap live ones.
        for (const Region& o : live)
          ASSERT_TRUE(r.offset + r.bytes <= o.offset || o.offset + o.bytes <= r.offset);
        std::memset(r.ptr, it & 0xff, r.bytes);  // the memory is really there
        live.push_back(r);
        in_use += r.bytes;
        peak = std::max(peak, in_use);
      } catch (const Error& e) {
        ++failures;
        // It only fails when no free extent (gap between live regions) is large enough.
        std::vector<Region> sorted = live;
        std::sort(sorted.begin(), sorted.end(),
                  [](const Region& x, const Region& y) { return x.offset < y.offset; });
        uint64_t pos = 0, largest = 0;
        for (const Region& o : sorted) {
          largest = std::max(largest, o.offset - pos);
          pos = o.offset + o.bytes;
        }
        largest = std::max(largest, cap - pos);
        ASSERT_LT(largest, arena_round(bytes)) << e.what();
        ASSERT_TRUE(has(e.what(), "largest free extent " + format_bytes(largest)));
      }
    } else {
      size_t k = rng() % live.size();
      arena.free(live[k]);
      in_use -= live[k].bytes;
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(k));
    }
    ASSERT_NO_THROW(arena.check_invariants()) << "after operation " << it;
    ASSERT_EQ(arena.stats().in_use, in_use);
    ASSERT_EQ(arena.stats().peak_in_use, peak);
  }
  EXPECT_GT(failures, 0u) << "the sequence should run the arena full at times";
  for (const Region& r : live) arena.free(r);
  arena.check_invariants();
  EXPECT_EQ(arena.stats().in_use, 0u);
  // Everything merged back: the whole capacity is one extent again.
  Region all = arena.alloc(cap, "all");
  EXPECT_EQ(all.offset, 0u);
  arena.free(all);
}

TEST(Arena, FreeOfAForeignRegionIsRejected) {
  DeviceArena arena(nullptr, 4096);  // dry arena: offsets only
  Region r = arena.alloc(100, "x");
  EXPECT_EQ(r.ptr, nullptr);
  Region fake = r;
  fake.offset += 256;
  EXPECT_TRUE(has(error_of([&] { arena.free(fake); }), "not live"));
  arena.free(r);
  EXPECT_TRUE(has(error_of([&] { arena.free(r); }), "not live"));  // double free
}

TEST(Arena, CapacityExceededNamesTagAndSizes) {
  DeviceArena arena(nullptr, 4096);
  arena.alloc(1024, "params");
  arena.alloc(2048, "grads");
  std::string e = error_of([&] { arena.alloc(2000, "act_keep"); });
  EXPECT_TRUE(has(e, "'act_keep' needs 2.00 KiB"));  // 2000 rounded up to 2048
  EXPECT_TRUE(has(e, "only 1.00 KiB of the 4.00 KiB capacity is free"));
  EXPECT_TRUE(has(e, "params=1.00 KiB"));
  EXPECT_TRUE(has(e, "grads=2.00 KiB"));
  EXPECT_TRUE(has(e, "largest free extent 1.00 KiB"));
}

// The Trainer checks the exact budget against memory.device_capacity before allocating.
TEST(Arena, TrainerRejectsCapacityBelowBudget) {
  TempDir tmp;
  JobConfig cfg = tiny_job(ModelFamily::Llama);
  ModelSpec spec = build_model_spec(cfg.model);
  auto ops = make_cpu_ops();
  DeviceBudget b =
      device_budget(spec, *ops, cfg.train.micro_batch, cfg.train.seq_len,
                    std::vector<ActMode>(2, ActMode::Keep), resident_state_bytes(spec, DType::F32));
  cfg.memory.device_capacity = b.total() - DeviceArena::kAlign;
  std::string e = error_of([&] { train(cfg, tmp.file("run")); });
  EXPECT_TRUE(has(e, "does not fit"));
  EXPECT_TRUE(has(e, b.describe()));
  EXPECT_TRUE(has(e, "activations.n_checkpoint"));

  // Exactly the budget fits and the run uses all of it.
  cfg.memory.device_capacity = b.total();
  TrainSummary s = train(cfg, tmp.file("run2"));
  EXPECT_EQ(s.peak_device_bytes, b.total());
}

}  // namespace
}  // namespace mart::integ
