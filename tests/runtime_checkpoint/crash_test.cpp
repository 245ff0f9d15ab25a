// Fault sweeps over checkpoints (fixed seeds, so every run tries the same cases):
//  - every single-byte corruption and truncation of any checkpoint file is detected, and the
//    loader walks back to the previous checkpoint (CRC32C detects every burst error up to 32 bits,
//    so a missed flip would be a bug in what the manifest covers, not bad luck);
//  - a process killed with SIGKILL at a random moment while saving never leaves a step_*
//    directory that fails verification, and its temporaries are removed afterwards.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "tests/runtime_checkpoint/ckpt_test_util.h"

namespace mart::ckpt_test {
namespace {

// Every file of a format 3 checkpoint, the model folder's included.
const std::vector<std::string> kFiles = {"model/model.safetensors",      "model/config.json",
                                         "model/generation_config.json", "optimizer.safetensors",
                                         "trainer_state.json",           "manifest.json"};

TEST(FaultSweep, EveryByteFlipOrTruncationIsDetectedAndWalkedBackFrom) {
  RunFixture r;
  r.save(1, 0);
  const std::string dir = r.save(2, 0);
  std::mt19937_64 rng(13);
  int trials = 0;
  for (const std::string& f : kFiles) {
    const std::string path = dir + "/" + f;
    const std::string original = read_all(path);
    for (int t = 0; t < 40; ++t, ++trials) {
      std::string damaged = original;
      if (t % 4 == 3) {  // truncation
        damaged.resize(rng() % original.size());
      } else {
        damaged[rng() % original.size()] ^= static_cast<char>(1 + rng() % 255);
      }
      write_all(path, damaged);
      const CheckpointChoice c = newest_intact_checkpoint(r.run);
      EXPECT_EQ(c.dir, r.ckpt(1)) << f << " trial " << t;
      EXPECT_EQ(c.skipped.size(), 1u) << f << " trial " << t;
    }
    write_all(path, original);
    EXPECT_EQ(newest_intact_checkpoint(r.run).dir, dir) << "restored " << f;  // control
  }
  EXPECT_EQ(trials, 240);
}

// Saves checkpoints 1, 2, 3, ... (keep 2) until killed.
[[noreturn]] void save_forever(RunFixture& r) {
  for (int s = 1;; ++s) {
    try {
      r.save(s, 2);
    } catch (...) {
      ::_exit(3);
    }
    if (s == r.cfg.train.steps) ::_exit(0);
  }
}

TEST(FaultSweep, SigkillDuringSavesNeverLeavesADamagedCheckpoint) {
  std::mt19937_64 rng(7);
  int with_checkpoint = 0;
  for (int trial = 0; trial < 50; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    RunFixture r;
    fs::create_directories(r.run);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) save_forever(r);
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 400000));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) == 3) << "a save failed";
    // Every step_* directory present verifies: a kill never leaves a half-written or
    // half-deleted one under a checkpoint name.
    int steps = 0;
    if (fs::exists(r.run + "/checkpoints"))
      for (const auto& e : fs::directory_iterator(r.run + "/checkpoints")) {
        const std::string n = e.path().filename().string();
        if (n.rfind("step_", 0) != 0) continue;
        ++steps;
        EXPECT_NO_THROW(verify_checkpoint(e.path().string())) << n;
      }
    if (steps > 0) {
      ++with_checkpoint;
      EXPECT_NO_THROW(newest_intact_checkpoint(r.run));
    }
    remove_stale_checkpoint_temporaries(r.run);
    if (fs::exists(r.run + "/checkpoints"))
      for (const auto& e : fs::directory_iterator(r.run + "/checkpoints"))
        EXPECT_TRUE(e.path().filename() == "latest" ||
                    e.path().filename().string().rfind("step_", 0) == 0)
            << "left behind: " << e.path();
  }
  // A save takes tens of ms here, so most trials land after the first; printed for the record.
  std::printf("SIGKILL trials: 50, with a checkpoint to resume: %d\n", with_checkpoint);
}

}  // namespace
}  // namespace mart::ckpt_test
