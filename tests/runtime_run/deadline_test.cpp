// Time limits: train.max_time and TrainOptions::time_limit_s (what the launcher takes from
// SLURM_JOB_END_TIME) stop the run with a checkpoint before the deadline. The clock is injected:
// each step "takes" 10 s of fake time, so nothing depends on this machine's speed.
#include <cmath>

#include "runtime/preemption.h"
#include "tests/runtime_run/run_util.h"

namespace mart::run_test {
namespace {

struct FakeClock {
  double now = 0;
  void install(TrainOptions& o, double step_s = 10) {
    o.clock = [this] { return now; };
    o.on_step = [this, step_s](int) { now += step_s; };
  }
};

// Before the fix there was no train.max_time: the key was refused as unknown.
TEST(Deadline, MaxTimeStopsWithACheckpointBeforeTheDeadline) {
  JobConfig cfg = tiny_job(20);
  cfg.train.max_time = "0:01:40";  // 100 s
  validate(cfg);
  TempDir tmp;
  FakeClock clock;
  TrainOptions o = options(tmp.file("run"));
  clock.install(o);
  const TrainSummary s = train(cfg, o);
  EXPECT_EQ(s.stop, StopReason::TimeLimit);
  EXPECT_TRUE(s.resumable_stop());
  // The rule (runtime/preemption.h): stop when now + 1.5 x (step + checkpoint) >= deadline, the
  // checkpoint estimated as one step until one is measured: 10k + 30 >= 100 first at k = 7.
  EXPECT_EQ(s.steps_done, 7);
  EXPECT_LE(clock.now, 100.0);
  EXPECT_EQ(latest_name(tmp.file("run")), "step_00000007");

  // The limit is per invocation and may be lifted on resume; the run then matches one that was
  // never stopped, bit for bit.
  JobConfig again = cfg;
  again.train.max_time = "0";
  TrainOptions r = options(tmp.file("run"));
  r.resume = true;
  EXPECT_EQ(train(again, r).stop, StopReason::Finished);
  train(again, options(tmp.file("ref")));
  EXPECT_TRUE(same_bits(losses_of(tmp.file("run")), losses_of(tmp.file("ref"))));
  EXPECT_EQ(losses_of(tmp.file("ref")).size(), 20u);
}

TEST(Deadline, TheSmallerOfMaxTimeAndTheJobLimitWins) {
  JobConfig cfg = tiny_job(20);
  cfg.train.max_time = "100";
  TempDir tmp;
  FakeClock clock;
  TrainOptions o = options(tmp.file("run"));
  clock.install(o);
  o.time_limit_s = 50;                     // e.g. what is left of the Slurm job
  EXPECT_EQ(train(cfg, o).steps_done, 2);  // 10k + 30 >= 50 first at k = 2
  EXPECT_LE(clock.now, 50.0);
}

TEST(Deadline, NoLimitRunsToTheEnd) {
  TempDir tmp;
  FakeClock clock;
  TrainOptions o = options(tmp.file("run"));
  clock.install(o, 1e6);
  const TrainSummary s = train(tiny_job(5), o);
  EXPECT_EQ(s.stop, StopReason::Finished);
  EXPECT_EQ(s.steps_done, 5);
}

TEST(Deadline, GuardRule) {
  DeadlineGuard none;
  EXPECT_FALSE(none.active());
  EXPECT_FALSE(none.must_stop(1e12));
  DeadlineGuard g(100);
  EXPECT_FALSE(g.must_stop(99.9));  // nothing measured: only a passed deadline stops
  EXPECT_TRUE(g.must_stop(100));
  g.step_took(2);
  EXPECT_DOUBLE_EQ(g.margin(), 6);  // 1.5 x (2 + 2): the checkpoint guessed as one step
  g.checkpoint_took(4);
  g.step_took(1);  // the longest step counts
  EXPECT_DOUBLE_EQ(g.margin(), 9);
  EXPECT_FALSE(g.must_stop(90.9));
  EXPECT_TRUE(g.must_stop(91));
}

TEST(Deadline, MaxTimeForms) {
  EXPECT_EQ(max_time_seconds("0"), 0);
  EXPECT_EQ(max_time_seconds("3600"), 3600);
  EXPECT_EQ(max_time_seconds("90.5"), 90.5);
  EXPECT_EQ(max_time_seconds("1:30:00"), 5400);
  EXPECT_EQ(max_time_seconds("1-00:00:01"), 86401);
  for (const char* bad : {"", "-5", "abc", "1:3:00", "1:60:00", "1:00", "2 days", "400-00:00:00"})
    EXPECT_TRUE(has(error_of([&] { max_time_seconds(bad); }), "train.max_time")) << bad;
  JobConfig c = tiny_job();
  c.train.max_time = "1h";
  EXPECT_TRUE(has(error_of([&] { validate(c); }), "train.max_time = '1h'"));
  c.train.max_time = "0";
  c.train.stop_signals = {"TERM", "KILL"};
  EXPECT_TRUE(has(error_of([&] { validate(c); }), "train.stop_signals[1] = 'KILL'"));
}

TEST(Deadline, SlurmEndTime) {
  EXPECT_EQ(slurm_seconds_left("1000", 400), 600);
  EXPECT_EQ(slurm_seconds_left(nullptr, 400), DeadlineGuard::kNone);
  EXPECT_EQ(slurm_seconds_left("", 400), DeadlineGuard::kNone);
  EXPECT_EQ(slurm_seconds_left("soon", 400), DeadlineGuard::kNone);
}

}  // namespace
}  // namespace mart::run_test
