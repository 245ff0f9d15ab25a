// Choosing the checkpoint to resume: the newest one that verifies completely, walking back past
// damaged ones and saying which and why. Before, the loader took whatever `latest` named: a corrupt
// newest checkpoint failed the resume although an intact older one existed, and `latest` naming a
// missing directory failed it too.
#include <gtest/gtest.h>

#include "tests/runtime_checkpoint/ckpt_test_util.h"

namespace mart::ckpt_test {
namespace {

void flip_last_byte(const std::string& path) {
  std::string b = read_all(path);
  b.back() ^= 0x10;
  write_all(path, b);
}

TEST(WalkBack, IntactNewestIsChosenWithNothingSkipped) {  // the negative control
  RunFixture r;
  r.save(1, 0);
  r.save(2, 0);
  const CheckpointChoice c = newest_intact_checkpoint(r.run);
  EXPECT_EQ(c.dir, r.ckpt(2));
  EXPECT_TRUE(c.skipped.empty());
  EXPECT_EQ(latest_checkpoint(r.run), r.ckpt(2));
}

TEST(WalkBack, DamagedNewestIsSkippedWithItsReason) {
  RunFixture r;
  for (int s = 1; s <= 3; ++s) r.save(s, 0);
  flip_last_byte(r.ckpt(3) + "/optimizer.safetensors");
  CheckpointChoice c = newest_intact_checkpoint(r.run);
  EXPECT_EQ(c.dir, r.ckpt(2));
  ASSERT_EQ(c.skipped.size(), 1u);
  EXPECT_TRUE(has(c.skipped[0], "step_00000003: corrupt checkpoint: "));
  EXPECT_TRUE(has(c.skipped[0], "optimizer.safetensors fails its CRC32C check"));
  // Two damaged: both named, newest first.
  fs::remove(r.ckpt(2) + "/model/model.safetensors");
  c = newest_intact_checkpoint(r.run);
  EXPECT_EQ(c.dir, r.ckpt(1));
  ASSERT_EQ(c.skipped.size(), 2u);
  EXPECT_TRUE(has(c.skipped[1], "step_00000002: corrupt checkpoint: "));
  EXPECT_TRUE(has(c.skipped[1], "model.safetensors is missing"));
  // ... and the choice loads.
  ExecutorRig b(tiny_model(), 2, 8, {}, {}, 777);
  EXPECT_EQ(load_checkpoint(c.dir, b.spec, *b.states).step, 1);
}

TEST(WalkBack, NoIntactCheckpointListsEveryOne) {
  RunFixture r;
  r.save(1, 0);
  r.save(2, 0);
  flip_last_byte(r.ckpt(1) + "/model/model.safetensors");
  fs::remove(r.ckpt(2) + "/trainer_state.json");
  const std::string e = error_of([&] { newest_intact_checkpoint(r.run); });
  EXPECT_TRUE(has(e, "no intact checkpoint to resume in '" + r.run + "'"));
  EXPECT_TRUE(has(e, "step_00000002: corrupt checkpoint: " + r.ckpt(2) + "/trainer_state.json"));
  EXPECT_TRUE(has(e, "step_00000001: corrupt checkpoint: " + r.ckpt(1) +
                         "/model/model.safetensors fails its CRC32C check"));
}

TEST(WalkBack, LatestNamingAMissingDirectoryDoesNotMatter) {
  RunFixture r;
  r.save(1, 0);
  r.save(2, 0);
  write_all(r.run + "/checkpoints/latest", "step_00000009\n");
  EXPECT_EQ(latest_checkpoint(r.run), r.ckpt(2));
  fs::remove(r.run + "/checkpoints/latest");
  EXPECT_EQ(latest_checkpoint(r.run), r.ckpt(2));
}

TEST(WalkBack, HalfDeletedAndScratchDirectoriesAreNeverChosen) {
  RunFixture r;
  r.save(1, 0);
  r.save(2, 0);
  // An older MART's interrupted prune: a step directory without its optimizer state.
  constexpr auto all = fs::copy_options::recursive;  // model/ too
  fs::copy(r.ckpt(2), r.ckpt(5), all);
  fs::remove(r.ckpt(5) + "/optimizer.safetensors");
  // A renamed-away checkpoint being deleted, and a save in progress, both complete inside.
  fs::copy(r.ckpt(2), r.run + "/checkpoints/.deleting-step_00000007-h-1", all);
  fs::copy(r.ckpt(2), r.run + "/checkpoints/.tmp-step_00000008-h-1", all);
  const CheckpointChoice c = newest_intact_checkpoint(r.run);
  EXPECT_EQ(c.dir, r.ckpt(2));
  ASSERT_EQ(c.skipped.size(), 1u);
  EXPECT_TRUE(has(c.skipped[0], "optimizer.safetensors is missing"));
}

TEST(WalkBack, ARenamedCheckpointIsNotTakenForAnotherStep) {
  RunFixture r;
  r.save(1, 0);
  fs::rename(r.ckpt(1), r.ckpt(4));
  const std::string e = error_of([&] { newest_intact_checkpoint(r.run); });
  EXPECT_TRUE(has(e, "is named for step 4 but its trainer_state.json holds step 1"));
}

TEST(WalkBack, NothingToResumeSaysSo) {
  TempDir tmp;
  EXPECT_TRUE(has(error_of([&] { newest_intact_checkpoint(tmp.file("none")); }),
                  "no checkpoint to resume"));
  fs::create_directories(tmp.file("empty/checkpoints"));
  EXPECT_TRUE(has(error_of([&] { newest_intact_checkpoint(tmp.file("empty")); }),
                  "holds no step_* directory"));
}

}  // namespace
}  // namespace mart::ckpt_test
