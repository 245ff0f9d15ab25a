// CpuAdam on its thread pool: same bits for any thread count and tile size, ordered async
// updates, stats, clean shutdown.
#include "kernels/cpu/cpu_adam.h"

#include <gtest/gtest.h>

#include <random>

#include "common/error.h"
#include "tests/memory_adam/adam_test_util.h"

namespace mart {
namespace {

using cpu::AdamIsa;
using test::AdamState;

CpuAdamOptions opts(int threads, size_t tile_bytes = 256) {
  CpuAdamOptions o;
  o.threads = threads;
  o.tile_bytes = tile_bytes;  // small tiles: many tile edges inside the chunk
  return o;
}

TEST(CpuAdam, ThreadCountAndTileSizeDoNotChangeBits) {
  AdamWHyper h;
  h.weight_decay = 0.05f;
  h.grad_scale = 0.5f;
  h.step = 3;
  for (bool bf16_grad : {false, true}) {
    for (int out : {0, 1, 2}) {
      AdamState ref(100003, 77);
      cpu::adamw_simd(ref.span(bf16_grad, out), cpu::adamw_consts(h), AdamIsa::Scalar);
      for (int threads : {1, 2, 3, 4}) {
        for (size_t tile : {size_t(64), size_t(256), size_t(64 * 1024)}) {
          AdamState st(100003, 77);
          CpuAdam adam(opts(threads, tile));
          ASSERT_EQ(adam.threads(), threads);
          adam.step(st.span(bf16_grad, out), h);
          ASSERT_TRUE(test::same_state(ref, st))
              << "threads=" << threads << " tile=" << tile << " out=" << out;
        }
      }
    }
  }
}

TEST(CpuAdam, EveryForcedIsaOnThePoolMatchesScalar) {
  const AdamWHyper h;
  AdamState ref(5001, 9);
  cpu::adamw_simd(ref.span(false, 2), cpu::adamw_consts(h), AdamIsa::Scalar);
  for (AdamIsa isa : test::available_isas()) {
    CpuAdamOptions o = opts(3);
    o.force_isa = true;
    o.isa = isa;
    CpuAdam adam(o);
    EXPECT_EQ(adam.isa(), isa);
    AdamState st(5001, 9);
    adam.step(st.span(false, 2), h);
    ASSERT_TRUE(test::same_state(ref, st)) << cpu::adam_isa_name(isa);
  }
}

TEST(CpuAdam, AsyncStepsOnOneChunkRunInSubmissionOrder) {
  // Step k depends on step k-1's m, v and master (and the bias correction differs per step), so
  // any reordering or overlap changes the bits. The slice submissions overlap the full chunk
  // with a different split across workers: jobs must not overlap in time.
  AdamState ref(20000, 5), st = ref;
  CpuAdam adam(opts(3));
  std::vector<CpuAdam::Ticket> tickets;
  AdamWHyper h;
  for (int step = 1; step <= 20; ++step) {
    h.step = step;
    cpu::AdamWSpan full = ref.span(false, 2);
    cpu::AdamWSpan slice = full;
    slice.n = 777;
    cpu::adamw_simd(full, cpu::adamw_consts(h), AdamIsa::Scalar);
    cpu::adamw_simd(slice, cpu::adamw_consts(h), AdamIsa::Scalar);
    cpu::AdamWSpan f2 = st.span(false, 2), s2 = f2;
    s2.n = 777;
    tickets.push_back(adam.submit(f2, h));
    tickets.push_back(adam.submit(s2, h));
  }
  for (size_t i = 1; i < tickets.size(); ++i) EXPECT_EQ(tickets[i], tickets[i - 1] + 1);
  adam.wait(tickets.back());
  for (auto t : tickets) EXPECT_TRUE(adam.done(t));
  ASSERT_TRUE(test::same_state(ref, st));
}

TEST(CpuAdam, ManySubmissionsStress) {
  std::mt19937 rng(123);
  std::vector<AdamState> ref, got;
  for (int i = 0; i < 64; ++i) {
    ref.emplace_back(1 + rng() % 5000, 1000 + i);
    got.push_back(ref.back());
  }
  CpuAdam adam(opts(4, 64));
  AdamWHyper h;
  std::vector<CpuAdam::Ticket> tickets;
  uint64_t elements = 0;
  for (int round = 0; round < 20; ++round) {  // 1280 updates, random waits in between
    h.step = round + 1;
    for (size_t i = 0; i < ref.size(); ++i) {
      const int out = static_cast<int>(i % 3);
      cpu::adamw_simd(ref[i].span(i % 2, out), cpu::adamw_consts(h), AdamIsa::Scalar);
      tickets.push_back(adam.submit(got[i].span(i % 2, out), h));
      elements += ref[i].n;
      if (rng() % 16 == 0) adam.wait(tickets[rng() % tickets.size()]);
    }
    // The next round reads this round's results, which a pending update may still write.
    adam.wait(tickets.back());
  }
  for (size_t i = 0; i < ref.size(); ++i) ASSERT_TRUE(test::same_state(ref[i], got[i])) << i;
  const CpuAdamStats s = adam.stats();
  EXPECT_EQ(s.updates, tickets.size());
  EXPECT_EQ(s.elements, elements);
  EXPECT_GT(s.seconds, 0.0);
}

TEST(CpuAdam, StatsCountBytesHonestly) {
  CpuAdam adam(opts(2));
  AdamState st(1000, 1);
  adam.step(st.span(false, 2), AdamWHyper{});  // 4 (g) + 12 (read p,m,v) + 12 (write) + 2 (out)
  adam.step(st.span(true, 0), AdamWHyper{});   // 2 + 24
  const CpuAdamStats s = adam.stats();
  EXPECT_EQ(s.updates, 2u);
  EXPECT_EQ(s.elements, 2000u);
  EXPECT_EQ(s.bytes, 1000u * 30 + 1000u * 26);
  EXPECT_GT(s.gbps(), 0.0);
  adam.reset_stats();
  EXPECT_EQ(adam.stats().updates, 0u);
}

TEST(CpuAdam, BadInputIsRejectedAtSubmit) {
  CpuAdam adam(opts(2));
  AdamState st(10, 1);
  cpu::AdamWSpan s = st.span(false, 1);
  s.v = nullptr;
  EXPECT_THROW(adam.submit(s, AdamWHyper{}), Error);
  AdamWHyper h;
  h.step = 0;
  EXPECT_THROW(adam.step(st.span(false, 1), h), Error);
  CpuAdamOptions o;
  o.tile_bytes = 100;
  EXPECT_THROW(CpuAdam bad(o), Error);
  adam.step(st.span(false, 1), AdamWHyper{});  // still usable
}

TEST(CpuAdam, ShutdownWithPendingWorkDrainsIt) {
  for (int rep = 0; rep < 20; ++rep) {
    AdamState ref(3000, rep), st = ref;
    cpu::adamw_simd(ref.span(false, 1), cpu::adamw_consts({}), AdamIsa::Scalar);
    {
      CpuAdam adam(opts(1 + rep % 4));
      adam.submit(st.span(false, 1), AdamWHyper{});
    }  // destructor waits for the update, then joins the workers
    ASSERT_TRUE(test::same_state(ref, st));
  }
}

TEST(CpuAdam, ZeroLengthChunkIsANoOp) {
  CpuAdam adam(opts(2));
  cpu::AdamWSpan s;  // all null, n = 0
  adam.step(s, AdamWHyper{});
  EXPECT_EQ(adam.stats().elements, 0u);
}

}  // namespace
}  // namespace mart
