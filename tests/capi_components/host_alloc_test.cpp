// mart_host_alloc / mart_host_free: alignment, NUMA node, sizes, and misuse (bad pointers, bad
// nodes, NULL), through the C API over the process-wide allocator (capi/host_memory.h).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "capi/host_memory.h"
#include "mart/mart.h"

namespace {

TEST(CapiHost, BlocksAre64ByteAlignedWritableAndOnTheDefaultNode) {
  const unsigned def = mart::capi::default_numa_node();
  for (size_t bytes : {size_t{1}, size_t{63}, size_t{100}, size_t{4096}, size_t{3} << 20}) {
    void* p = nullptr;
    ASSERT_EQ(mart_host_alloc(bytes, -1, &p), MART_OK) << mart_last_error();
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u) << bytes;
    std::memset(p, 0xab, bytes);  // the whole block is ours
    EXPECT_EQ(mart::capi::process_host_allocator().node_of(p), static_cast<int>(def));
    EXPECT_EQ(mart::capi::process_host_allocator().block_size(p), bytes);
    EXPECT_EQ(mart_host_free(p), MART_OK) << mart_last_error();
  }
}

TEST(CapiHost, EveryNodeOfThisMachineCanBeNamed) {
  for (const mart::NumaNode& n : mart::capi::process_topology().nodes()) {
    void* p = nullptr;
    ASSERT_EQ(mart_host_alloc(5000, static_cast<int32_t>(n.os_index), &p), MART_OK)
        << mart_last_error();
    EXPECT_EQ(mart::capi::process_host_allocator().node_of(p), static_cast<int>(n.os_index));
    EXPECT_EQ(mart_host_free(p), MART_OK);
  }
}

TEST(CapiHost, ZeroBytesGivesNullAndNullFreesNothing) {
  void* p = reinterpret_cast<void*>(0x1);
  EXPECT_EQ(mart_host_alloc(0, -1, &p), MART_OK);
  EXPECT_EQ(p, nullptr);
  EXPECT_EQ(mart_host_free(nullptr), MART_OK);
}

TEST(CapiHost, AMissingNodeIsRefusedAndTheNodesAreListed) {
  void* p = reinterpret_cast<void*>(0x1);
  for (int32_t node : {9999, -2}) {
    EXPECT_EQ(mart_host_alloc(64, node, &p), MART_ERR_INVALID_ARGUMENT);
    const std::string msg = mart_last_error();
    EXPECT_NE(msg.find("mart_host_alloc"), std::string::npos) << msg;
    EXPECT_NE(msg.find(std::to_string(node)), std::string::npos) << msg;
    EXPECT_NE(msg.find("nodes are [" + std::to_string(mart::capi::process_topology().first_node())),
              std::string::npos)
        << msg;
  }
  EXPECT_EQ(p, reinterpret_cast<void*>(0x1));  // output untouched on failure
}

TEST(CapiHost, NullOutIsRefused) {
  EXPECT_EQ(mart_host_alloc(64, -1, nullptr), MART_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(mart_last_error()).find("`out` is NULL"), std::string::npos);
}

TEST(CapiHost, ASizeBeyondAnyMachineIsOutOfMemory) {
  void* p = reinterpret_cast<void*>(0x1);
  EXPECT_EQ(mart_host_alloc(SIZE_MAX - 7, -1, &p), MART_ERR_OUT_OF_MEMORY);
  EXPECT_EQ(mart_host_alloc((size_t{1} << 48) + 1, -1, &p), MART_ERR_OUT_OF_MEMORY);
  EXPECT_EQ(p, reinterpret_cast<void*>(0x1));
}

TEST(CapiHost, ForeignInteriorAndFreedPointersAreRefusedAndFreeNothing) {
  void* p = nullptr;
  ASSERT_EQ(mart_host_alloc(256, -1, &p), MART_OK);
  int on_stack = 0;
  std::vector<char> heap(64);
  for (void* bad : {static_cast<void*>(&on_stack), static_cast<void*>(heap.data()),
                    static_cast<void*>(static_cast<char*>(p) + 64)}) {
    EXPECT_EQ(mart_host_free(bad), MART_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(mart_last_error()).find("not a live block from mart_host_alloc"),
              std::string::npos)
        << mart_last_error();
  }
  // The block survived the refused frees: still live, its size intact, and freeable once.
  EXPECT_EQ(mart::capi::process_host_allocator().block_size(p), 256u);
  EXPECT_EQ(mart_host_free(p), MART_OK);
  EXPECT_EQ(mart_host_free(p), MART_ERR_INVALID_ARGUMENT);  // double free
}

TEST(CapiHost, ThreadsAllocateAndFreeConcurrently) {
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t, &failures] {
      std::vector<void*> blocks;
      for (int i = 0; i < 200; ++i) {
        void* p = nullptr;
        const size_t bytes = 16 + static_cast<size_t>(i * 37 + t * 1000);
        if (mart_host_alloc(bytes, -1, &p) != MART_OK || !p) ++failures[t];
        if (p) std::memset(p, t, bytes);
        blocks.push_back(p);
      }
      for (void* p : blocks)
        if (mart_host_free(p) != MART_OK) ++failures[t];
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

}  // namespace
