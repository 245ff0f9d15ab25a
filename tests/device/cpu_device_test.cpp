// The CPU device on its own (links mart_device only): stream order, events, asynchronous copies,
// host-task exceptions reported at the next synchronize, destruction with work pending.
// No test depends on timing: blocked work is held by a gate the test opens itself.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "device/device.h"

namespace mart {
namespace {

// Work that cannot finish until the test opens the gate.
class Gate {
 public:
  void open() { p_.set_value(); }
  std::function<void()> blocker() {
    return [f = f_] { f.wait(); };
  }

 private:
  std::promise<void> p_;
  std::shared_future<void> f_ = p_.get_future().share();
};

// Thread-safe record of which tasks ran, in order.
class Trace {
 public:
  std::function<void()> mark(int id) {
    return [this, id] {
      std::lock_guard<std::mutex> lk(mu_);
      ids_.push_back(id);
    };
  }
  std::vector<int> ids() {
    std::lock_guard<std::mutex> lk(mu_);
    return ids_;
  }

 private:
  std::mutex mu_;
  std::vector<int> ids_;
};

TEST(CpuDevice, StreamRunsItsTasksInOrder) {
  auto dev = make_cpu_device();
  Trace t;
  for (int i = 0; i < 50; ++i) dev->host_task(kH2DStream, t.mark(i));
  dev->synchronize_stream(kH2DStream);
  std::vector<int> want(50);
  for (int i = 0; i < 50; ++i) want[i] = i;
  EXPECT_EQ(t.ids(), want);
}

TEST(CpuDevice, ComputeStreamRunsInline) {
  auto dev = make_cpu_device();
  bool ran = false;
  dev->host_task(kComputeStream, [&] { ran = true; });
  EXPECT_TRUE(ran);  // no synchronize needed
  EXPECT_TRUE(dev->query(dev->record(kComputeStream)));
}

TEST(CpuDevice, EventCompletesWhenItsStreamReachesIt) {
  auto dev = make_cpu_device();
  Gate gate;
  dev->host_task(kH2DStream, gate.blocker());
  Event e = dev->record(kH2DStream);
  EXPECT_FALSE(dev->query(e));  // the gate holds the stream: cannot have completed
  gate.open();
  dev->synchronize(e);
  EXPECT_TRUE(dev->query(e));
  EXPECT_GE(dev->timestamp_s(e), 0.0);
  EXPECT_GE(dev->elapsed_s(e, e), 0.0);
}

TEST(CpuDevice, WaitOrdersOneStreamAfterAnother) {
  auto dev = make_cpu_device();
  Gate gate;
  Trace t;
  dev->host_task(kH2DStream, gate.blocker());
  dev->host_task(kH2DStream, t.mark(1));
  Event e = dev->record(kH2DStream);
  dev->wait(kD2HStream, e);
  dev->host_task(kD2HStream, t.mark(2));
  Event d = dev->record(kD2HStream);
  EXPECT_FALSE(dev->query(d));  // d2h waits on h2d, which waits on the gate
  gate.open();
  dev->synchronize(d);
  EXPECT_EQ(t.ids(), (std::vector<int>{1, 2}));
}

TEST(CpuDevice, UnrelatedStreamsDoNotWaitForEachOther) {
  auto dev = make_cpu_device();
  Gate gate;
  dev->host_task(kH2DStream, gate.blocker());
  Trace t;
  dev->host_task(kD2HStream, t.mark(7));
  dev->synchronize_stream(kD2HStream);  // would hang if d2h waited for h2d
  EXPECT_EQ(t.ids(), (std::vector<int>{7}));
  gate.open();
  dev->synchronize();
}

TEST(CpuDevice, AsyncCopiesAndMemsetLandInStreamOrder) {
  auto dev = make_cpu_device();
  std::vector<uint8_t> src(1 << 16), dst(1 << 16, 0);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 7);
  void* buf = dev->raw_malloc(src.size());
  dev->memcpy_async(buf, src.data(), src.size(), CopyKind::HostToDevice, kH2DStream);
  dev->memset_async(buf, 0xAB, 16, kH2DStream);  // after the copy, on the same stream
  Event up = dev->record(kH2DStream);
  dev->wait(kD2HStream, up);
  dev->memcpy_async(dst.data(), buf, dst.size(), CopyKind::DeviceToHost, kD2HStream);
  dev->synchronize_stream(kD2HStream);
  for (size_t i = 0; i < 16; ++i) EXPECT_EQ(dst[i], 0xAB) << i;
  for (size_t i = 16; i < dst.size(); ++i) ASSERT_EQ(dst[i], src[i]) << i;
  dev->raw_free(buf, src.size());
}

TEST(CpuDevice, CreatedStreamsAreIndependentQueues) {
  auto dev = make_cpu_device();
  const StreamId s = dev->create_stream("extra");
  EXPECT_GT(s, kD2HStream);
  Trace t;
  for (int i = 0; i < 5; ++i) dev->host_task(s, t.mark(i));
  dev->synchronize_stream(s);
  EXPECT_EQ(t.ids(), (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_THROW(dev->synchronize_stream(99), Error);
}

// ---- exceptions from host tasks ----

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(CpuDevice, HostTaskExceptionIsRethrownAtStreamSynchronize) {
  auto dev = make_cpu_device();
  dev->host_task(kH2DStream, [] { throw Error("disk full while staging chunk 3"); });
  EXPECT_EQ(message_of([&] { dev->synchronize_stream(kH2DStream); }),
            "disk full while staging chunk 3");
  // Reported once; the stream stays usable.
  EXPECT_NO_THROW(dev->synchronize_stream(kH2DStream));
  bool ran = false;
  dev->host_task(kH2DStream, [&] { ran = true; });
  EXPECT_NO_THROW(dev->synchronize_stream(kH2DStream));
  EXPECT_TRUE(ran);
}

TEST(CpuDevice, NoErrorNoThrow) {  // the negative control of the test above
  auto dev = make_cpu_device();
  dev->host_task(kH2DStream, [] {});
  EXPECT_NO_THROW(dev->synchronize_stream(kH2DStream));
  EXPECT_NO_THROW(dev->synchronize());
}

TEST(CpuDevice, HostTaskExceptionKeepsItsType) {
  auto dev = make_cpu_device();
  dev->host_task(kD2HStream, [] { throw std::out_of_range("index 9 of 4"); });
  EXPECT_THROW(dev->synchronize(), std::out_of_range);
}

TEST(CpuDevice, HostTaskExceptionIsRethrownAtEventSynchronize) {
  auto dev = make_cpu_device();
  Trace t;
  dev->host_task(kH2DStream, [] { throw Error("bad prefetch"); });
  dev->host_task(kH2DStream, t.mark(1));  // work after the failure still runs
  Event e = dev->record(kH2DStream);
  EXPECT_EQ(message_of([&] { dev->synchronize(e); }), "bad prefetch");
  EXPECT_TRUE(dev->query(e));
  EXPECT_EQ(t.ids(), (std::vector<int>{1}));
  EXPECT_NO_THROW(dev->synchronize());  // already reported
}

TEST(CpuDevice, ExceptionAfterAnEventIsNotThatEventsToReport) {
  auto dev = make_cpu_device();
  Event before = dev->record(kH2DStream);
  dev->host_task(kH2DStream, [] { throw Error("later"); });
  Event after = dev->record(kH2DStream);
  EXPECT_NO_THROW(dev->synchronize_stream(kD2HStream));  // another stream: nothing to report
  // Stream order: `before` completed ahead of the throw, `after` behind it.
  EXPECT_NO_THROW(dev->synchronize(before));
  EXPECT_EQ(message_of([&] { dev->synchronize(after); }), "later");
}

TEST(CpuDevice, FirstOfSeveralExceptionsIsReported) {
  auto dev = make_cpu_device();
  dev->host_task(kH2DStream, [] { throw Error("first"); });
  dev->host_task(kH2DStream, [] { throw Error("second"); });
  EXPECT_EQ(message_of([&] { dev->synchronize_stream(kH2DStream); }), "first");
  EXPECT_NO_THROW(dev->synchronize_stream(kH2DStream));
}

TEST(CpuDevice, ExceptionOnComputeStreamThrowsAtTheCall) {
  auto dev = make_cpu_device();
  EXPECT_THROW(dev->host_task(kComputeStream, [] { throw Error("inline"); }), Error);
  EXPECT_NO_THROW(dev->synchronize());
}

// ---- destruction ----

TEST(CpuDevice, DestructionFinishesPendingWork) {
  std::atomic<int> done{0};
  Gate gate;
  {
    auto dev = make_cpu_device();
    dev->host_task(kH2DStream, gate.blocker());
    for (int i = 0; i < 100; ++i) dev->host_task(kH2DStream, [&] { ++done; });
    for (int i = 0; i < 100; ++i) dev->host_task(kD2HStream, [&] { ++done; });
    std::thread opener([&] { gate.open(); });
    dev.reset();  // blocks until the gate opens and both queues drain
    opener.join();
  }
  EXPECT_EQ(done.load(), 200);
}

TEST(CpuDevice, DestructionWithAnUnreportedErrorWarnsInsteadOfTerminating) {
  testing::internal::CaptureStderr();
  {
    auto dev = make_cpu_device();
    dev->host_task(kD2HStream, [] { throw Error("never synchronized"); });
  }
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("never synchronized"), std::string::npos) << err;
}

}  // namespace
}  // namespace mart
