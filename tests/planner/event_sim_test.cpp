// The fluid discrete-event simulator: queues, dependencies, shared PCIe and shared host cores.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "planner/event_sim.h"

namespace mart {
namespace {

TEST(EventSim, QueuesRunInOrderAndOverlapAcrossResources) {
  EventSim s;
  auto a = s.add(Resource::Compute, 1.0, {}, "a");
  auto b = s.add(Resource::Compute, 2.0, {}, "b");
  auto c = s.add(Resource::H2D, 1.5, {}, "c");
  auto d = s.add(Resource::Compute, 1.0, {c}, "d");  // after b (queue) and c (dependency)
  s.run({});
  EXPECT_DOUBLE_EQ(s.start(a), 0);
  EXPECT_DOUBLE_EQ(s.end(b), 3);
  EXPECT_DOUBLE_EQ(s.end(c), 1.5);
  EXPECT_DOUBLE_EQ(s.start(d), 3);
  EXPECT_DOUBLE_EQ(s.end(d), 4);
  EXPECT_DOUBLE_EQ(s.busy(Resource::Compute, 0, 4), 4);
  EXPECT_DOUBLE_EQ(s.busy(Resource::H2D, 1, 4), 0.5);
}

TEST(EventSim, WaitsAreInstantAndChain) {
  EventSim s;
  auto up = s.add(Resource::H2D, 2.0, {}, "upload");
  auto w = s.add(Resource::Compute, 0, {up}, "wait");
  auto k = s.add(Resource::Compute, 1.0, {}, "kernel");
  s.run({});
  EXPECT_DOUBLE_EQ(s.end(w), 2);
  EXPECT_DOUBLE_EQ(s.end(k), 3);
}

TEST(EventSim, DuplexCopiesSlowEachOther) {
  EventSim s;
  auto up = s.add(Resource::H2D, 1.0, {}, "up");
  auto down = s.add(Resource::D2H, 1.0, {}, "down");
  EventSim::Rates r;
  r.h2d_duplex = r.d2h_duplex = 0.5;
  s.run(r);
  EXPECT_DOUBLE_EQ(s.end(up), 2);
  EXPECT_DOUBLE_EQ(s.end(down), 2);
  // One direction alone, then the other finishes at full speed.
  EventSim t;
  auto u2 = t.add(Resource::H2D, 1.0, {}, "up");
  auto d2 = t.add(Resource::D2H, 2.0, {}, "down");
  t.run(r);
  EXPECT_DOUBLE_EQ(t.end(u2), 2);  // 1 s of work at half speed
  EXPECT_DOUBLE_EQ(t.end(d2), 3);  // 1 s done by t = 2, the rest alone
}

TEST(EventSim, HostCoresAreSharedOnTheCpuBackend) {
  EventSim s;
  auto c = s.add(Resource::Compute, 1.0, {}, "compute");
  auto a = s.add(Resource::CpuAdam, 1.0, {}, "adam");
  EventSim::Rates r;
  r.compute_on_host = true;
  r.host_overlap_rate = 0.5;
  s.run(r);
  EXPECT_DOUBLE_EQ(s.end(c), 2);
  EXPECT_DOUBLE_EQ(s.end(a), 2);
}

// Dependencies can only name earlier operations and queues run in creation order, so a schedule
// cannot deadlock; every operation of a random schedule finishes after what it depends on.
TEST(EventSim, RandomSchedulesFinishInDependencyOrder) {
  uint64_t rng = 12345;
  auto next = [&] { return rng = rng * 6364136223846793005ull + 1442695040888963407ull; };
  EventSim s;
  std::vector<std::vector<EventSim::OpId>> deps;
  for (int i = 0; i < 500; ++i) {
    std::vector<EventSim::OpId> d;
    for (int k = 0; k < 2 && i > 0; ++k) d.push_back(static_cast<int>(next() >> 33) % i);
    const auto r = static_cast<Resource>((next() >> 33) % kResources);
    const double w = (next() >> 60) < 4 ? 0.0 : ((next() >> 40) % 1000) * 1e-3;
    s.add(r, w, d.data(), static_cast<int>(d.size()), "op");
    deps.push_back(d);
  }
  EventSim::Rates r;
  r.h2d_duplex = 0.7;
  r.d2h_duplex = 0.6;
  r.compute_on_host = true;
  r.host_overlap_rate = 0.5;
  s.run(r);
  for (int i = 0; i < s.size(); ++i) {
    ASSERT_GE(s.end(i), s.start(i));
    ASSERT_GE(s.end(i) - s.start(i), s.work(i) - 1e-9);  // never faster than alone
    for (auto d : deps[i]) ASSERT_LE(s.end(d), s.start(i) + 1e-12);
  }
}

TEST(EventSim, TraceHasOneEventPerTimedOperation) {
  EventSim s;
  s.add(Resource::Compute, 1.0, {}, "forward", 3);
  s.add(Resource::H2D, 0.0, {}, "wait");
  s.run({});
  nlohmann::json ev = nlohmann::json::array();
  s.append_trace(ev);
  int x = 0;
  for (auto& e : ev) x += e["ph"] == "X";
  EXPECT_EQ(x, 1);
  bool found = false;
  for (auto& e : ev) found |= e.value("name", "") == "forward 3";
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace mart
