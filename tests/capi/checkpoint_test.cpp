// Checkpoints through the C API: save, train on, load into a fresh session, train on: the same
// losses bit for bit (weights, AdamW moments, step count and data position all restored). And the
// run directory the C API wrote is one `mart train --resume` continues, with the same losses.
#include <filesystem>

#include "runtime/checkpoint/train_checkpoint.h"
#include "runtime/run_dir.h"
#include "tests/capi/capi_util.h"

namespace mart::capi_test {
namespace {

class CapiCheckpoint : public ::testing::TestWithParam<bool> {};  // offloaded states?

TEST_P(CapiCheckpoint, RoundTripContinuesBitwiseAndMartTrainResumesIt) {
  JobConfig cfg = tiny_job(ModelFamily::Llama, 6);
  if (GetParam()) cfg = offloaded(cfg);
  const int N = 3;
  TempDir tmp;
  const std::string run = tmp.file("run");

  SessionPtr a = make_session(cfg);
  capi_train(a.get(), cfg, N);
  char* path = nullptr;
  ASSERT_EQ(mart_session_save_checkpoint(a.get(), run.c_str(), &path), MART_OK)
      << mart_last_error();
  EXPECT_TRUE(has(path, "step_00000003"));
  mart_string_free(path);
  const Curve a_rest = capi_train(a.get(), cfg, N);

  // A fresh session with zero weights, loaded from the run directory (its latest checkpoint).
  SessionPtr b = make_session(cfg, 0);
  ASSERT_EQ(mart_session_load_checkpoint(b.get(), run.c_str()), MART_OK) << mart_last_error();
  EXPECT_EQ(info_of(b.get()).steps_done, N);
  const Curve b_rest = capi_train(b.get(), cfg, N);
  EXPECT_TRUE(same_losses(b_rest.losses, a_rest.losses));
  ASSERT_EQ(b_rest.val.size(), 1u);  // step 6
  EXPECT_TRUE(same_bits(b_rest.val[0].second, a_rest.val[0].second));

  // Negative control: without the data position (a fresh stream) the losses differ.
  // (load_hf given the checkpoint directory itself finds its model/model.safetensors.)
  SessionPtr c = make_session(cfg, 0);
  ASSERT_EQ(mart_session_load_hf(c.get(), latest_checkpoint(run).c_str()), MART_OK)
      << mart_last_error();
  EXPECT_FALSE(same_losses(capi_train(c.get(), cfg, N).losses, a_rest.losses));

  // `mart train --resume RUN`: the checkpoint's config, the trainer's loader restore.
  const JobConfig saved = checkpoint_config(latest_checkpoint(run));
  const Curve resumed = trainer_run(saved, run, /*resume=*/true);
  EXPECT_TRUE(same_losses(resumed.losses, a_rest.losses));
}

INSTANTIATE_TEST_SUITE_P(States, CapiCheckpoint, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "offloaded" : "resident"; });

// The other direction: a checkpoint `mart train` wrote loads into a session and continues as the
// trainer's own longer run does.
TEST(CapiCheckpointControl, LoadsACheckpointTheTrainerWrote) {
  const JobConfig cfg = tiny_job(ModelFamily::GPT2, 6);
  TempDir tmp;
  const Curve full = trainer_run(cfg, tmp.file("full"));
  TrainOptions o;
  o.run_dir = tmp.file("half");
  o.stop_after = 3;
  o.progress = false;
  Trainer(cfg, o).run();
  SessionPtr s = make_session(cfg, 0);
  ASSERT_EQ(mart_session_load_checkpoint(s.get(), tmp.file("half").c_str()), MART_OK)
      << mart_last_error();
  const Curve rest = capi_train(s.get(), cfg, 3);
  EXPECT_TRUE(
      same_losses(rest.losses, std::vector<double>(full.losses.begin() + 3, full.losses.end())));
}

// A save takes the run directory's lock: while another run holds it (here a RunDirLock on another
// descriptor, as `mart train` holds it), the save fails naming the holder and writes nothing;
// once released the same save succeeds (the control).
TEST(CapiCheckpointControl, SaveRefusesARunDirectoryInUse) {
  const JobConfig cfg = tiny_job(ModelFamily::Llama, 6);
  TempDir tmp;
  const std::string run = tmp.file("run");
  SessionPtr s = make_session(cfg);
  capi_train(s.get(), cfg, 2);
  {
    const RunDirLock held(run);
    EXPECT_EQ(mart_session_save_checkpoint(s.get(), run.c_str(), nullptr), MART_ERR_IO);
    EXPECT_TRUE(has(mart_last_error(), "is in use by another run")) << mart_last_error();
    EXPECT_TRUE(has(mart_last_error(), "pid ")) << mart_last_error();
    EXPECT_FALSE(std::filesystem::exists(run + "/checkpoints"));
  }
  EXPECT_EQ(mart_session_save_checkpoint(s.get(), run.c_str(), nullptr), MART_OK)
      << mart_last_error();
  EXPECT_TRUE(std::filesystem::exists(run + "/checkpoints/step_00000002"));
}

}  // namespace
}  // namespace mart::capi_test
