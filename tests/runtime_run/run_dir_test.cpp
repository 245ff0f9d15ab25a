// Run directories: one run at a time (RUN/.lock, released by the kernel on any death), a fresh
// run never mixes with an old one, --overwrite deletes only what a run wrote, and the default
// run directory never leaves its parent.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "runtime/run_dir.h"
#include "tests/runtime_run/run_util.h"

namespace mart::run_test {
namespace {

namespace fs = std::filesystem;

// Before the fix two runs on one directory silently replaced each other's files.
TEST(RunDir, SecondRunOnALockedDirectoryIsRefusedNamingTheHolder) {
  TempDir tmp;
  const std::string run = tmp.file("run");
  {
    RunDirLock first(run);
    const std::string msg = error_of([&] { RunDirLock second(run); });
    EXPECT_TRUE(has(msg, "in use by another run"));
    EXPECT_TRUE(has(msg, "pid " + std::to_string(::getpid())));
    EXPECT_TRUE(has(msg, "host "));
    // A Trainer on the same directory stops before touching anything.
    EXPECT_TRUE(has(error_of([&] { Trainer(tiny_job(), options(run)); }), "in use"));
  }
  RunDirLock again(run);  // released with its holder
}

// The lock dies with its process, however it dies: a SIGKILLed holder leaves no stale lock.
TEST(RunDir, LockOfAKilledProcessIsReleased) {
  TempDir tmp;
  const std::string run = tmp.file("run");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    try {
      RunDirLock held(run);
      char ok = 1;
      if (::write(ready[1], &ok, 1) != 1) std::_Exit(3);
      for (;;) ::pause();
    } catch (...) {
      std::_Exit(2);
    }
  }
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  EXPECT_TRUE(has(error_of([&] { RunDirLock mine(run); }), "pid " + std::to_string(child)));
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status));
  RunDirLock mine(run);  // no error: the kernel dropped the dead holder's lock
  ::close(ready[0]);
  ::close(ready[1]);
}

// Before the fix a second fresh run into the same directory wiped the old metrics and kept the
// old run's higher-numbered checkpoints, so `latest` could name a deleted one.
TEST(RunDir, FreshRunRefusesADirectoryHoldingARun) {
  TempDir tmp;
  const std::string run = tmp.file("run");
  train(tiny_job(8), options(run));
  const std::string metrics_before = read_all(run + "/metrics.jsonl");
  const std::string msg = error_of([&] { train(tiny_job(3), options(run)); });
  EXPECT_TRUE(has(msg, "already holds files"));
  EXPECT_TRUE(has(msg, "--resume"));
  EXPECT_TRUE(has(msg, "--overwrite"));
  EXPECT_EQ(read_all(run + "/metrics.jsonl"), metrics_before);  // untouched
  EXPECT_EQ(latest_name(run), "step_00000008");
}

TEST(RunDir, OverwriteStartsOverWithNothingOfTheOldRunLeft) {
  TempDir tmp;
  const std::string run = tmp.file("run");
  train(tiny_job(8), options(run));
  TrainOptions o = options(run);
  o.overwrite = true;
  train(tiny_job(3), o);
  EXPECT_EQ(losses_of(run).size(), 3u);
  EXPECT_EQ(latest_name(run), "step_00000003");
  std::vector<std::string> ckpts;
  for (const auto& e : fs::directory_iterator(run + "/checkpoints"))
    ckpts.push_back(e.path().filename().string());
  std::sort(ckpts.begin(), ckpts.end());
  EXPECT_EQ(ckpts, (std::vector<std::string>{"latest", "step_00000003"}));
  // The new run matches a run in a brand-new directory.
  train(tiny_job(3), options(tmp.file("clean")));
  EXPECT_TRUE(same_bits(losses_of(run), losses_of(tmp.file("clean"))));
}

TEST(RunDir, OverwriteRefusesADirectoryWithOtherFiles) {
  TempDir tmp;
  const std::string run = tmp.file("run");
  train(tiny_job(2), options(run));
  write_all(run + "/notes.txt", "mine");
  TrainOptions o = options(run);
  o.overwrite = true;
  EXPECT_TRUE(has(error_of([&] { train(tiny_job(2), o); }), "notes.txt"));
  EXPECT_EQ(read_all(run + "/notes.txt"), "mine");
  EXPECT_TRUE(fs::exists(run + "/checkpoints/latest"));
  // Negative control: an empty directory (or one holding only a stale lock file) is fine.
  fs::create_directories(tmp.file("empty"));
  write_all(tmp.file("empty") + "/.lock", "pid 1 on host gone\n");
  EXPECT_EQ(train(tiny_job(2), options(tmp.file("empty"))).steps_done, 2);
}

TEST(RunDir, DefaultRunDirNeverEscapesItsParent) {
  TempDir tmp;
  const std::string parent = tmp.file("runs");
  const std::string ok = default_run_dir(parent, "job");
  EXPECT_EQ(fs::path(ok).parent_path(), fs::path(parent));
  for (const char* bad : {"../../x", "a/b", "..", ".", ""})
    EXPECT_TRUE(has(error_of([&] { default_run_dir(parent, bad); }), "cannot name a run")) << bad;
}

}  // namespace
}  // namespace mart::run_test
