// ThreadPool: static tiling, ordering, errors, binding reports, shutdown.
#include "kernels/cpu/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/error.h"

namespace mart {
namespace {

TEST(StaticTiles, CoverEveryElementOnceInWholeTiles) {
  for (size_t n : {size_t(0), size_t(1), size_t(63), size_t(64), size_t(1000), size_t(100003)}) {
    for (size_t tile : {size_t(1), size_t(16), size_t(64), size_t(4096)}) {
      for (int nw = 1; nw <= 7; ++nw) {
        size_t next = 0;
        for (int w = 0; w < nw; ++w) {
          const Range r = static_tiles(n, tile, w, nw);
          ASSERT_EQ(r.begin, next) << n << " " << tile << " " << w << "/" << nw;
          ASSERT_LE(r.begin, r.end);
          if (r.end < n) {
            ASSERT_EQ(r.end % tile, 0u);
          }
          next = r.end;
        }
        ASSERT_EQ(next, n);
      }
    }
  }
  EXPECT_THROW(static_tiles(10, 0, 0, 1), Error);
}

TEST(ThreadPool, EveryWorkerRunsEveryJobOnce) {
  ThreadPoolOptions o;
  o.threads = 3;
  ThreadPool pool(o);
  ASSERT_EQ(pool.size(), 3);
  std::atomic<int> calls{0}, mask{0};
  pool.run([&](int w, int nw) {
    EXPECT_EQ(nw, 3);
    calls++;
    mask |= 1 << w;
  });
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(mask.load(), 7);
}

TEST(ThreadPool, JobsRunOneAtATimeInTicketOrder) {
  ThreadPoolOptions o;
  o.threads = 4;
  ThreadPool pool(o);
  std::atomic<int> finished{0};  // tasks ended; job j may start only after 4*j of them
  std::atomic<bool> overlap{false};
  std::vector<int> order;  // appended by worker 0 only
  std::vector<ThreadPool::Ticket> t;
  for (int j = 0; j < 200; ++j) {
    t.push_back(pool.submit([&, j](int w, int) {
      if (finished.load() < 4 * j) overlap = true;
      if (w == 0) order.push_back(j);
      if (j % 7 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200 * (w + 1)));
      finished++;
    }));
  }
  pool.wait(t[100]);
  for (int j = 0; j <= 100; ++j) EXPECT_TRUE(pool.done(t[j]));
  pool.wait_all();
  ASSERT_EQ(order.size(), 200u);
  for (int j = 0; j < 200; ++j) EXPECT_EQ(order[j], j);
  EXPECT_FALSE(overlap.load());
}

TEST(ThreadPool, DoneCallbackRunsBeforeWaitReturns) {
  ThreadPool pool;
  double seconds = -1;
  auto t = pool.submit([](int, int) {}, [&](double s) { seconds = s; });
  pool.wait(t);
  EXPECT_GE(seconds, 0.0);
}

TEST(ThreadPool, TaskExceptionReachesTheWaiterAndThePoolGoesOn) {
  ThreadPoolOptions o;
  o.threads = 2;
  ThreadPool pool(o);
  auto bad = pool.submit([](int w, int) {
    if (w == 1) MART_FAIL("tile exploded");
  });
  auto good = pool.submit([](int, int) {});
  try {
    pool.wait(good);  // covers the failed ticket too
    FAIL() << "expected the task's error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tile exploded"), std::string::npos);
  }
  EXPECT_TRUE(pool.done(bad));
  pool.run([](int, int) {});              // no stale error left
  EXPECT_THROW(pool.wait(12345), Error);  // never issued
}

TEST(ThreadPool, WaitFromAWorkerIsRefused) {
  ThreadPoolOptions o;
  o.threads = 1;
  ThreadPool pool(o);
  auto t = pool.submit([&](int, int) { pool.wait(1); });
  EXPECT_THROW(pool.wait(t), Error);
}

TEST(ThreadPool, BindsToExistingPus) {
  ThreadPoolOptions o;
  const unsigned n = std::max(1u, std::min(2u, std::thread::hardware_concurrency()));
  for (unsigned i = 0; i < n; ++i) o.pus.push_back(static_cast<int>(i));
  o.threads = static_cast<int>(n);
  ThreadPool pool(o);
  EXPECT_EQ(pool.binding_report(), "");
  for (unsigned i = 0; i < n; ++i) EXPECT_EQ(pool.worker_pus()[i], static_cast<int>(i));
  // Each worker really runs where it was bound.
  std::atomic<int> wrong{0};
  pool.run([&](int w, int) {
    hwloc_topology_t topo;
    hwloc_topology_init(&topo);
    hwloc_topology_load(topo);
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (hwloc_get_cpubind(topo, set, HWLOC_CPUBIND_THREAD) != 0 ||
        !hwloc_bitmap_isset(set, static_cast<unsigned>(w)) || hwloc_bitmap_weight(set) != 1)
      wrong++;
    hwloc_bitmap_free(set);
    hwloc_topology_destroy(topo);
  });
  EXPECT_EQ(wrong.load(), 0);
}

TEST(ThreadPool, CpusetGivesOneWorkerPerPu) {
  hwloc_bitmap_t set = hwloc_bitmap_alloc();
  hwloc_bitmap_set(set, 0);
  ThreadPoolOptions o;
  o.cpuset = set;
  ThreadPool pool(o);
  hwloc_bitmap_free(set);
  EXPECT_EQ(pool.size(), 1);
  EXPECT_EQ(pool.worker_pus()[0], 0);
}

TEST(ThreadPool, FailedBindingIsReportedNotFatal) {
  ThreadPoolOptions o;
  o.threads = 2;
  o.pus = {0, 100000};  // no such PU
  o.warn_prefix = "";   // keep the test output clean
  ThreadPool pool(o);
  EXPECT_NE(pool.binding_report().find("worker 1"), std::string::npos) << pool.binding_report();
  EXPECT_NE(pool.binding_report().find("100000"), std::string::npos);
  EXPECT_EQ(pool.worker_pus()[1], -1);
  std::atomic<int> calls{0};
  pool.run([&](int, int) { calls++; });
  EXPECT_EQ(calls.load(), 2);
}

TEST(ThreadPool, BadOptionsAreRejected) {
  ThreadPoolOptions o;
  o.threads = -1;
  EXPECT_THROW(ThreadPool p(o), Error);
  hwloc_bitmap_t set = hwloc_bitmap_alloc();
  o = {};
  o.pus = {0};
  o.cpuset = set;
  EXPECT_THROW(ThreadPool p(o), Error);
  o = {};
  o.cpuset = set;  // empty
  EXPECT_THROW(ThreadPool p(o), Error);
  hwloc_bitmap_free(set);
}

TEST(ThreadPool, ManyPoolsStartAndStop) {
  for (int i = 0; i < 50; ++i) {
    std::atomic<int> calls{0};  // declared first: it must outlive the pool's pending jobs
    ThreadPoolOptions o;
    o.threads = 1 + i % 4;
    ThreadPool pool(o);
    for (int j = 0; j < 5; ++j) pool.submit([&](int, int) { calls++; });
    if (i % 2) pool.wait_all();
  }  // destructor drains the pending jobs before the counter goes out of scope
}

}  // namespace
}  // namespace mart
