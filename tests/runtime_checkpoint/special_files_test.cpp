// Checkpoint files that are not regular files (a FIFO, a directory) are refused by a stat before
// anything opens them. Before, a FIFO named trainer_state.json or model.safetensors blocked the
// loader forever in open(), waiting for a writer.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include "runtime/checkpoint/hf_checkpoint.h"
#include "tests/runtime_checkpoint/ckpt_test_util.h"

namespace mart::ckpt_test {
namespace {

// The error `fn` throws; a hang guard (generous, not a timing check) ends the process with a
// message when `fn` blocks, since a thread stuck in open() cannot be cancelled.
std::string error_within_a_minute(std::function<void()> fn) {
  auto task = std::make_shared<std::packaged_task<std::string()>>(
      [fn = std::move(fn)] { return error_of(fn); });
  std::future<std::string> f = task->get_future();
  std::thread([task] { (*task)(); }).detach();
  if (f.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    std::fprintf(stderr, "FATAL: the loader blocked on a FIFO for 60 s\n");
    std::_Exit(1);
  }
  return f.get();
}

void make_fifo(const std::string& path) {
  fs::remove(path);
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0) << path;
}

TEST(SpecialFiles, FifoInPlaceOfACheckpointFileIsRefused) {
  for (const char* name : {"trainer_state.json", "model/model.safetensors", "optimizer.safetensors",
                           "model/config.json", "manifest.json"}) {
    SCOPED_TRACE(name);
    RunFixture r;
    const std::string dir = r.save(3);
    make_fifo(dir + "/" + name);
    ExecutorRig b(tiny_model(), 2, 8);
    const std::string e = error_within_a_minute([&] { load_checkpoint(dir, b.spec, *b.states); });
    EXPECT_TRUE(has(e, dir + "/" + name + "' is a FIFO (named pipe), not a regular file"));
    EXPECT_TRUE(has(error_within_a_minute([&] { newest_intact_checkpoint(r.run); }), "FIFO"));
  }
}

TEST(SpecialFiles, FifoOrDirectoryGivenAsHuggingFaceWeightsIsRefused) {
  TempDir tmp;
  make_fifo(tmp.file("model.safetensors"));
  ExecutorRig b(tiny_model(), 2, 8);
  EXPECT_TRUE(has(error_within_a_minute(
                      [&] { load_hf_weights(b.spec, *b.states, tmp.file("model.safetensors")); }),
                  "is a FIFO"));
  fs::create_directories(tmp.file("dir.safetensors"));
  EXPECT_TRUE(
      has(error_of([&] { load_hf_weights(b.spec, *b.states, tmp.file("dir.safetensors")); }),
          "is a directory, not a regular file"));
}

}  // namespace
}  // namespace mart::ckpt_test
