// The trainer writes the views its config asks for (train.tensorboard, train.metrics_csv), each
// equal to metrics.jsonl, also across a stop and resume with evaluation; --overwrite removes them
// with the rest of the old run; a view that is off leaves no file.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/runtime_metrics/views_util.h"
#include "tests/runtime_run/run_util.h"

namespace mart {
namespace {

using namespace views_test;
using run_test::options;
using run_test::tiny_job;
using run_test::train;
using testutil::TempDir;
namespace fs = std::filesystem;

JobConfig job(int steps, bool tb, bool csv) {
  JobConfig c = tiny_job(steps);
  c.train.eval_every = 2;
  c.train.eval_sequences = 4;
  c.train.tensorboard = tb;
  c.train.metrics_csv = csv;
  return c;
}

TEST(TrainerViews, StopAndResumeKeepBothViewsEqualToMetricsJsonl) {
  TempDir tmp;
  const std::string run = tmp.file("run");
  TrainOptions o = options(run);
  o.stop_after = 3;
  train(job(6, true, true), o);
  expect_csv_matches_jsonl(run);
  expect_tb_matches_jsonl(run);
  TrainOptions r = options(run);
  r.resume = true;
  train(job(6, true, true), r);
  ASSERT_EQ(jsonl_lines(run).size(), 6u);
  expect_csv_matches_jsonl(run);
  expect_tb_matches_jsonl(run);
  const Rows rows = parse_csv(testutil::read_all(run + "/metrics.csv"));
  EXPECT_EQ(rows[0][1], "tokens");    // step, tokens, loss, val_loss, ...
  EXPECT_EQ(rows[0][3], "val_loss");  // evaluation at steps 2, 4, 6
  EXPECT_EQ(rows[1][3], "");
  EXPECT_NE(rows[2][3], "");
}

TEST(TrainerViews, OverwriteRemovesTheOldViews) {
  TempDir tmp;
  const std::string run = tmp.file("run");
  train(job(4, true, true), options(run));
  TrainOptions o = options(run);
  o.overwrite = true;
  train(job(2, true, true), o);
  expect_csv_matches_jsonl(run);
  expect_tb_matches_jsonl(run);  // one event file, two steps
  EXPECT_EQ(jsonl_lines(run).size(), 2u);
}

TEST(TrainerViews, OffViewsLeaveNoFiles) {
  TempDir tmp;
  const std::string run = tmp.file("run");
  train(job(2, false, false), options(run));
  EXPECT_FALSE(fs::exists(run + "/tensorboard"));
  EXPECT_FALSE(fs::exists(run + "/metrics.csv"));
  // Negative control: the defaults write the event files (and no CSV).
  train(tiny_job(2), options(tmp.file("defaults")));
  EXPECT_EQ(tb_event_files(tmp.file("defaults") + "/tensorboard").size(), 1u);
  EXPECT_FALSE(fs::exists(tmp.file("defaults") + "/metrics.csv"));
}

}  // namespace
}  // namespace mart
