// Checked metrics writes: a write that fails (disk full, injected here through
// TrainOptions::metrics_write) stops the run with a mart::Error naming the file and the OS error,
// after saving a checkpoint; the resumed run repairs the torn line and carries on.
#include <unistd.h>
#include <cerrno>

#include "runtime/run_metrics.h"
#include "tests/runtime_run/run_util.h"

namespace mart::run_test {
namespace {

// A write(2) that succeeds `ok_calls` times, then writes `partial` bytes once (a torn line), then
// fails with ENOSPC.
struct FullDisk {
  int ok_calls;
  size_t partial = 0;
  int calls = 0;
  ssize_t operator()(int fd, const void* p, size_t n) {
    ++calls;
    if (calls <= ok_calls) return ::write(fd, p, n);
    if (partial > 0 && calls == ok_calls + 1) return ::write(fd, p, std::min(partial, n));
    errno = ENOSPC;
    return -1;
  }
};

// Before the fix metrics writes were unchecked: training went on and lines were silently lost.
TEST(MetricsWrite, FullDiskStopsTheRunWithACheckpointAndANamedError) {
  TempDir tmp;
  const std::string run = tmp.file("run");
  auto disk = std::make_shared<FullDisk>(FullDisk{3, 20});
  TrainOptions o = options(run);
  o.metrics_write = [disk](int fd, const void* p, size_t n) { return (*disk)(fd, p, n); };
  const std::string msg = error_of([&] { train(tiny_job(8), o); });
  EXPECT_TRUE(has(msg, run + "/metrics.jsonl"));
  EXPECT_TRUE(has(msg, "No space left on device"));
  EXPECT_TRUE(has(msg, "a checkpoint of step 4 was saved"));
  EXPECT_TRUE(has(msg, "--resume"));
  EXPECT_EQ(latest_name(run), "step_00000004");
  // Three whole lines and a torn fourth.
  const std::string text = read_all(run + "/metrics.jsonl");
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);

  // Space again: the resume drops the torn line, trains 5..8. Step 4's line was lost with the
  // disk; every other step matches a run that never saw a full disk.
  TrainOptions r = options(run);
  r.resume = true;
  EXPECT_EQ(train(tiny_job(8), r).steps_done, 8);
  train(tiny_job(8), options(tmp.file("ref")));
  const auto got = metrics_of(run), want = metrics_of(tmp.file("ref"));
  ASSERT_EQ(got.size(), 7u);
  for (size_t i = 0, j = 0; j < want.size(); ++j) {
    if (j == 3) continue;  // step 4
    EXPECT_EQ(got[i]["step"], want[j]["step"]);
    EXPECT_EQ(got[i]["loss"].get<double>(), want[j]["loss"].get<double>());
    ++i;
  }
}

TEST(MetricsWrite, AppendRetriesShortWritesAndNamesTheFileOnFailure) {
  TempDir tmp;
  const std::string path = tmp.file("m.jsonl");
  {
    AppendFile f(path,
                 [](int fd, const void* p, size_t n) { return ::write(fd, p, n > 0 ? 1 : 0); });
    f.append("{\"step\":1}\n");
    f.sync();
  }
  EXPECT_EQ(read_all(path), "{\"step\":1}\n");
  AppendFile bad(path, [](int, const void*, size_t) -> ssize_t {
    errno = EFBIG;
    return -1;
  });
  const std::string msg = error_of([&] { bad.append("x"); });
  EXPECT_TRUE(has(msg, "cannot write '" + path + "'"));
  EXPECT_TRUE(has(msg, "File too large"));
}

TEST(MetricsWrite, TrimKeepsWholeLinesUpToTheStep) {
  TempDir tmp;
  const std::string path = tmp.file("m.jsonl");
  write_all(path,
            "{\"step\":1,\"loss\":3}\n{\"step\":2,\"loss\":2}\n{\"step\":3,\"loss\":1}\n{\"st");
  EXPECT_EQ(trim_metrics(path, 2), 2);
  EXPECT_EQ(read_all(path), "{\"step\":1,\"loss\":3}\n{\"step\":2,\"loss\":2}\n");
  const MetricsTotals t = metrics_totals(path);
  EXPECT_EQ(t.lines, 2);
  EXPECT_EQ(t.final_loss, 2);
  EXPECT_EQ(t.best_loss, 2);
}

}  // namespace
}  // namespace mart::run_test
