// CudaDevice: streams, events and timing, async copies and memsets, host tasks in stream order,
// raw_malloc's out-of-memory message, and the availability probe. Skipped without a GPU.
#include <gtest/gtest.h>

#include <string>

#include "device/device.h"

#ifdef MART_HAVE_CUDA
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "common/error.h"
#include "tests/gpu/cuda_test_util.h"

namespace mart::cudatest {
namespace {

// Tears the shared device down before the CUDA runtime unloads at exit.
class CudaEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    struct Access : CudaTest {
      static void reset() {
        extra_slot(0).reset();
        extra_slot(1).reset();
        ops().reset();
        dev().reset();
      }
    };
    Access::reset();
  }
};
[[maybe_unused]] ::testing::Environment* const kEnv =
    ::testing::AddGlobalTestEnvironment(new CudaEnvironment);

TEST(CudaAvailability, ReasonIsEmptyOrExplains) {
  const std::string why = cuda_unavailable_reason();
  if (!why.empty()) {
    EXPECT_NE(why.find("CUDA"), std::string::npos) << why;
    GTEST_SKIP() << "no usable GPU: " << why;
  }
  auto dev = make_cuda_device(0);
  EXPECT_EQ(dev->backend(), Backend::CUDA);
  EXPECT_NE(dev->name().find("cuda:0"), std::string::npos) << dev->name();
  EXPECT_GT(dev->total_memory(), 0u);
  EXPECT_LE(dev->free_memory(), dev->total_memory());
}

using CudaDeviceTest = CudaTest;

TEST_F(CudaDeviceTest, CopyRoundTripAcrossStreamsOrderedByEvents) {
  Device& d = *dev();
  const size_t n = 1 << 20;
  std::vector<float> host(n), back(n, -1.0f);
  for (size_t i = 0; i < n; i++) host[i] = float(i) * 0.5f;
  void* buf = d.raw_malloc(n * sizeof(float));
  d.memcpy_async(buf, host.data(), n * sizeof(float), CopyKind::HostToDevice, kH2DStream);
  Event up = d.record(kH2DStream);
  d.wait(kD2HStream, up);
  d.memcpy_async(back.data(), buf, n * sizeof(float), CopyKind::DeviceToHost, kD2HStream);
  Event down = d.record(kD2HStream);
  d.synchronize(down);
  EXPECT_TRUE(d.query(down));
  EXPECT_EQ(back, host);
  EXPECT_GE(d.elapsed_s(up, down), 0.0);
  EXPECT_LE(d.timestamp_s(up), d.timestamp_s(down));
  d.raw_free(buf, n * sizeof(float));
}

TEST_F(CudaDeviceTest, MemsetAndHostTaskRunInStreamOrder) {
  Device& d = *dev();
  const size_t n = 4096;
  void* buf = d.raw_malloc(n);
  std::vector<unsigned char> back(n, 0);
  std::atomic<int> seen{-1};
  d.memset_async(buf, 0x5a, n, kComputeStream);
  d.memcpy_async(back.data(), buf, n, CopyKind::DeviceToHost, kComputeStream);
  // The host task runs after the copy completed, so it sees the copied bytes.
  d.host_task(kComputeStream, [&] { seen = back[n - 1]; });
  d.synchronize_stream(kComputeStream);
  EXPECT_EQ(seen.load(), 0x5a);
  d.raw_free(buf, n);
}

TEST_F(CudaDeviceTest, HostTaskExceptionSurfacesOnSynchronize) {
  Device& d = *dev();
  d.host_task(kH2DStream, [] { throw std::runtime_error("boom"); });
  EXPECT_THROW(d.synchronize_stream(kH2DStream), Error);
  d.synchronize();  // reported once
}

TEST_F(CudaDeviceTest, CreatedStreamsWork) {
  Device& d = *dev();
  StreamId s = d.create_stream("extra");
  EXPECT_GT(s, kD2HStream);
  std::atomic<bool> ran{false};
  d.host_task(s, [&] { ran = true; });
  d.synchronize_stream(s);
  EXPECT_TRUE(ran.load());
  EXPECT_NE(d.native_stream(s), nullptr);
}

TEST_F(CudaDeviceTest, OutOfMemoryMessageNamesSizes) {
  try {
    dev()->raw_malloc(uint64_t(1) << 50);  // 1 PiB
    FAIL() << "a 1 PiB cudaMalloc succeeded";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("free"), std::string::npos) << msg;
    EXPECT_NE(msg.find("cudaMalloc"), std::string::npos) << msg;
  }
  // The device stays usable after the failed allocation.
  void* p = dev()->raw_malloc(1024);
  EXPECT_NE(p, nullptr);
  dev()->raw_free(p, 1024);
}

}  // namespace
}  // namespace mart::cudatest

#else  // !MART_HAVE_CUDA

TEST(CudaAvailability, BuiltWithoutCuda) {
  EXPECT_FALSE(mart::cuda_unavailable_reason().empty());
  GTEST_SKIP() << mart::cuda_unavailable_reason();
}

#endif
