// Saving: stale temporaries of killed saves are removed (only dead processes' on this host),
// pruning deletes only checkpoints older than the one just written -- never the new one because of
// a higher-numbered leftover -- and goes through a .deleting- name, and file-system failures are
// mart::Errors naming the path. Before: .tmp-* stayed forever, pruning by name order deleted the
// new checkpoint when two higher-numbered ones existed, and a run directory whose checkpoints/ was
// a file failed with the raw "filesystem error: ...".
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "runtime/checkpoint/checkpoint_fs.h"
#include "tests/runtime_checkpoint/ckpt_test_util.h"

namespace mart::ckpt_test {
namespace {

// The PID of a process that has exited (and been reaped).
long dead_pid() {
  const pid_t p = ::fork();
  if (p == 0) ::_exit(0);
  int status = 0;
  ::waitpid(p, &status, 0);
  return p;
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> v;
  for (const auto& e : fs::directory_iterator(dir)) v.push_back(e.path().filename().string());
  std::sort(v.begin(), v.end());
  return v;
}

TEST(SavePrune, StaleTemporariesOfDeadProcessesAreRemoved) {
  RunFixture r;
  r.save(1);
  const std::string root = r.run + "/checkpoints/";
  const std::string host = ckpt_fs::host_tag();
  const std::string dead = std::to_string(dead_pid());
  const std::string live = std::to_string(::getppid());
  const std::vector<std::string> stale = {".tmp-step_00000002-" + host + "-" + dead,
                                          ".tmp-step_00000002-" + dead,  // older MART's name
                                          ".deleting-step_00000001-" + host + "-" + dead,
                                          "latest.tmp." + dead};
  const std::vector<std::string> kept = {".tmp-step_00000002-" + host + "-" + live,
                                         ".tmp-step_00000002-otherhost-" + dead, ".tmp-notes",
                                         "latest.tmp.x"};
  for (const auto& n : stale)
    if (n.rfind("latest", 0) == 0)
      write_all(root + n, "step_00000002\n");  // write_file_atomic's temporary for `latest`
    else
      fs::create_directories(root + n + "/sub");
  for (const auto& n : kept) fs::create_directories(root + n);
  std::vector<std::string> removed = remove_stale_checkpoint_temporaries(r.run);
  std::sort(removed.begin(), removed.end());
  std::vector<std::string> want = stale;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(removed, want);
  for (const auto& n : stale) EXPECT_FALSE(fs::exists(root + n)) << n;
  for (const auto& n : kept) EXPECT_TRUE(fs::exists(root + n)) << n;
  EXPECT_TRUE(fs::exists(r.ckpt(1)));
  // Saving cleans up as well.
  fs::create_directories(root + stale[0]);
  r.save(2);
  EXPECT_FALSE(fs::exists(root + stale[0]));
}

TEST(SavePrune, KeepsTheNewestAndOnlyPrunesOlderOnes) {
  RunFixture r;
  for (int s = 1; s <= 4; ++s) r.save(s, 2);
  EXPECT_EQ(entries(r.run + "/checkpoints"),
            (std::vector<std::string>{"latest", "step_00000003", "step_00000004"}));
  EXPECT_EQ(read_all(r.run + "/checkpoints/latest"), "step_00000004\n");
}

TEST(SavePrune, HigherNumberedLeftoversNeverCauseTheNewCheckpointToBeDeleted) {
  RunFixture r;
  r.save(98, 0);
  r.save(99, 0);
  r.save(1, 2);
  r.save(2, 2);
  const std::string dir = r.save(3, 2);
  EXPECT_TRUE(fs::exists(dir));
  EXPECT_EQ(entries(r.run + "/checkpoints"),
            (std::vector<std::string>{"latest", "step_00000002", "step_00000003", "step_00000098",
                                      "step_00000099"}));
  EXPECT_EQ(read_all(r.run + "/checkpoints/latest"), "step_00000003\n");
}

TEST(SavePrune, SavingTheSameStepAgainReplacesIt) {
  RunFixture r;
  r.save(2);
  const std::string dir = r.save(2);
  EXPECT_EQ(entries(r.run + "/checkpoints"), (std::vector<std::string>{"latest", "step_00000002"}));
  EXPECT_EQ(newest_intact_checkpoint(r.run).dir, dir);
}

TEST(SavePrune, FileSystemFailuresAreMartErrorsNamingThePath) {
  RunFixture r;
  fs::create_directories(r.run);
  write_all(r.run + "/checkpoints", "not a directory");
  std::string e;
  try {
    r.save(1);
    ADD_FAILURE() << "saving under a file succeeded";
  } catch (const Error& x) {
    e = x.what();
  } catch (const std::exception& x) {
    ADD_FAILURE() << "not a mart::Error: " << x.what();
  }
  EXPECT_TRUE(has(e, r.run + "/checkpoints"));
  EXPECT_FALSE(has(e, "filesystem error"));
}

}  // namespace
}  // namespace mart::ckpt_test
