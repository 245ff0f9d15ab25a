// NUMA topology: node discovery, locality, binding decisions, on synthetic two-socket machines
// (so they run on any CI box) and on this machine (one-node fallback).
#include "memory/numa_topology.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "common/error.h"

namespace mart {
namespace {

using Nodes = std::vector<unsigned>;

// hwloc 2.x places NUMA nodes as memory children; all three spellings describe two sockets.
class TwoSocket : public ::testing::TestWithParam<const char*> {};

TEST_P(TwoSocket, ListsBothNodesWithTheirCpus) {
  NumaTopology t = NumaTopology::synthetic(GetParam());
  EXPECT_FALSE(t.is_this_system());
  EXPECT_EQ(t.kind(), NumaKind::kMultiNode);
  ASSERT_EQ(t.num_nodes(), 2u);
  EXPECT_EQ(t.nodes()[0].os_index, 0u);
  EXPECT_EQ(t.nodes()[1].os_index, 1u);
  EXPECT_EQ(t.nodes()[0].pus, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(t.nodes()[1].pus, (std::vector<int>{4, 5, 6, 7}));
  EXPECT_EQ(t.nodes()[1].cpulist, "4-7");
  EXPECT_NE(t.describe().find("2 NUMA node(s)"), std::string::npos) << t.describe();
}

TEST_P(TwoSocket, PicksTheNodeLocalToACpuset) {
  NumaTopology t = NumaTopology::synthetic(GetParam());
  EXPECT_EQ(t.nodes_local_to_pus({5}), Nodes{1});
  EXPECT_EQ(t.nodes_local_to_pus({0, 1}), Nodes{0});
  EXPECT_EQ(t.nodes_local_to_cpulist("4-7"), Nodes{1});
  EXPECT_EQ(t.nodes_local_to_cpulist("0-7"), (Nodes{0, 1}));  // spans both: both are local
  EXPECT_EQ(t.nodes_local_to_cpulist("3-4"), (Nodes{0, 1}));  // straddles: the intersecting ones
  EXPECT_TRUE(t.nodes_local_to_pus({}).empty());
  EXPECT_TRUE(t.nodes_local_to_pus({99}).empty());  // no such CPU
}

TEST_P(TwoSocket, GivesThePuListForBindingAndDoesNotBindAForeignTopology) {
  NumaTopology t = NumaTopology::synthetic(GetParam());
  EXPECT_EQ(t.pus_of_node(1), (std::vector<int>{4, 5, 6, 7}));
  BindResult r = t.bind_current_thread(1);
  EXPECT_FALSE(r.applied);  // a synthetic machine is not this one: nothing may change
  EXPECT_NE(r.detail.find("4-7"), std::string::npos) << r.detail;
  std::vector<char> buf(2 * 4096);
  BindResult m = t.bind_memory(buf.data(), 4096, 1);
  EXPECT_FALSE(m.applied);
}

TEST_P(TwoSocket, GpuLocalityFallsBackToTheRequestedNode) {
  NumaTopology t = NumaTopology::synthetic(GetParam());
  GpuLocality g = t.gpu_local_nodes(0, 1);
  EXPECT_EQ(g.source, GpuNodeSource::kFallback);
  EXPECT_EQ(g.node(), 1u);
  EXPECT_EQ(t.gpu_local_nodes(0).node(), 0u);
  EXPECT_FALSE(t.gpu_local_nodes(0).detail.empty());
  EXPECT_THROW(t.gpu_local_nodes(0, 5), Error);
}

INSTANTIATE_TEST_SUITE_P(Spellings, TwoSocket,
                         ::testing::Values("pack:2 [numa] core:4 pu:1", "numa:2 core:4 pu:1",
                                           "pack:2 numa:1 core:4 pu:1"));

TEST(NumaTopology, UnknownNodeIsNamed) {
  NumaTopology t = NumaTopology::synthetic("numa:2 core:2 pu:1");
  EXPECT_TRUE(t.has_node(1));
  EXPECT_FALSE(t.has_node(2));
  try {
    t.node(7);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("NUMA node 7 does not exist; nodes are [0,1]"),
              std::string::npos)
        << e.what();
  }
}

TEST(NumaTopology, BadSyntheticDescriptionIsAClearError) {
  try {
    NumaTopology::synthetic("sockets:two");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("synthetic"), std::string::npos) << e.what();
  }
}

TEST(NumaTopology, OneNodeFallbackWhenTheMachineHasOneNode) {
  NumaTopology t = NumaTopology::synthetic("pack:2 core:4 pu:1");  // no NUMA level
  ASSERT_EQ(t.num_nodes(), 1u);
  EXPECT_NE(t.kind(), NumaKind::kMultiNode);
  EXPECT_EQ(t.nodes_local_to_pus({6}), Nodes{0});
  EXPECT_EQ(t.pus_of_node(0).size(), 8u);
  EXPECT_EQ(t.gpu_local_nodes(0).node(), 0u);
}

TEST(NumaTopology, XmlRoundTrip) {
  NumaTopology a = NumaTopology::synthetic("pack:2 [numa] core:4 pu:1");
  std::string xml = a.to_xml();
  NumaTopology b = NumaTopology::from_xml_text(xml);
  ASSERT_EQ(b.num_nodes(), 2u);
  EXPECT_FALSE(b.is_this_system());
  EXPECT_EQ(b.nodes()[1].pus, a.nodes()[1].pus);
  EXPECT_EQ(b.nodes_local_to_pus({6}), Nodes{1});

  std::string path =
      std::string(::testing::TempDir()) + "/mart_topo_" + std::to_string(getpid()) + ".xml";
  std::ofstream(path) << xml;
  NumaTopology c = NumaTopology::from_xml_file(path);
  std::remove(path.c_str());
  EXPECT_EQ(c.num_nodes(), 2u);
  EXPECT_THROW(NumaTopology::from_xml_file("/nonexistent/topology.xml"), Error);
}

TEST(NumaTopology, ThisSystemLoadsAndBinds) {
  NumaTopology t = NumaTopology::load_this_system();
  ASSERT_GE(t.num_nodes(), 1u);
  EXPECT_TRUE(t.is_this_system());
  if (t.num_nodes() == 1) {
    EXPECT_NE(t.kind(), NumaKind::kMultiNode);
  }
  unsigned n = t.first_node();
  EXPECT_FALSE(t.pus_of_node(n).empty());
  // In a thread of its own, so the test runner's main thread keeps its affinity.
  BindResult r;
  std::thread([&] { r = t.bind_current_thread(n); }).join();
  EXPECT_TRUE(r.applied) << r.detail;

  size_t len = 4 * static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  BindResult m = t.bind_memory(p, len, n);  // may be refused in a container: never throws
  EXPECT_FALSE(m.detail.empty());
  munmap(p, len);

  GpuLocality g = t.gpu_local_nodes(0);
  EXPECT_TRUE(t.has_node(g.node())) << g.detail;
}

TEST(CpuList, ParsesAndFormats) {
  EXPECT_EQ(parse_cpulist("0-3,8,10-11"), (std::vector<int>{0, 1, 2, 3, 8, 10, 11}));
  EXPECT_EQ(parse_cpulist(""), std::vector<int>{});
  EXPECT_EQ(format_cpulist({11, 0, 1, 2, 3, 8, 10}), "0-3,8,10-11");
  EXPECT_EQ(format_cpulist({5}), "5");
  EXPECT_THROW(parse_cpulist("3-1"), Error);
  EXPECT_THROW(parse_cpulist("0,"), Error);
  EXPECT_THROW(parse_cpulist("a"), Error);
}

}  // namespace
}  // namespace mart
