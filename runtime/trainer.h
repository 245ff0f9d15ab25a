// Trainer: the `mart train` loop. A Session (runtime/session.h) built from the JobConfig holds the
// device, ops, model states and executor; the trainer streams batches, steps the optimizer on the
// warmup+cosine schedule, evaluates, checkpoints, and writes the run directory:
//   RUN/config.yaml      the resolved job config
//   RUN/metrics.jsonl    one object per step: step, loss, lr, grad_norm, step_s, tokens_per_s,
//                        peak_device_bytes, tokens (seen so far) (+ val_loss on evaluation
//                        steps)
//   RUN/summary.json     final/best loss, throughput, peak memory, the plan used
//   RUN/checkpoints/     see runtime/checkpoint/train_checkpoint.h
//   RUN/.lock            held for the life of the run (runtime/run_dir.h)
// Early stops (runtime/preemption.h): a stop flag (signals) or a time limit ends the run after the
// step in flight, with its metrics line and a checkpoint; the summary says why (TrainSummary::stop)
// and `mart train` exits kExitResumable (75). A resumed run continues bitwise-identically.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "config/job_config.h"
#include "nlohmann/json_fwd.hpp"
#include "runtime/auto_planner.h"

namespace mart {

struct TrainOptions {
  std::string run_dir;  // required
  bool resume = false;  // continue from run_dir's latest checkpoint
  // Resume a finished run, or one whose train.steps was raised: the cosine schedule is stretched
  // to the new train.steps (without it, a changed train.steps is refused).
  bool extend = false;
  // A fresh run into a run directory that holds a previous run: delete that run's files first
  // (without it, a non-empty run directory is refused). Not with resume.
  bool overwrite = false;
  std::string init_from;     // Hugging Face model.safetensors (or a directory holding one)
  int stop_after = -1;       // stop (with a checkpoint) once this many steps are done; -1: run all
  bool progress = true;      // live progress line on stderr
  AutoPlanner auto_planner;  // memory.mode auto: profile + plan (profiler/auto_plan.h); else unused
  // Non-zero: stop after the step in flight (the value is the signal number, for the message).
  // ScopedStopSignals::flag() for signals; tests pass their own. Read once per step.
  const std::atomic<int>* stop_flag = nullptr;
  // Seconds this invocation may run (0: none), e.g. what is left of a Slurm job; combined with
  // train.max_time (the smaller wins), measured from the Trainer's construction.
  double time_limit_s = 0;
  // Monotonic seconds for the time limit; empty: std::chrono::steady_clock. Tests inject one.
  std::function<double()> clock;
  // Called after each step's metrics line is written (tests use it to raise a stop mid-run).
  std::function<void(int step)> on_step;
  // The write(2) used for metrics.jsonl; empty: ::write. Tests inject a failing one.
  std::function<ssize_t(int, const void*, size_t)> metrics_write;
};

enum class StopReason {
  Finished,   // reached train.steps
  StopAfter,  // --stop-after / TrainOptions::stop_after
  Signal,     // stop_flag was raised (TrainSummary::stop_signal says which)
  TimeLimit,  // train.max_time or time_limit_s: stopped with a checkpoint before the deadline
};

// Losses, timings and peak memory cover the whole run (every line of metrics.jsonl), so a resumed
// run reports the same totals an uninterrupted one would.
struct TrainSummary {
  int steps_done = 0;      // the run's step count (all invocations)
  int steps_this_run = 0;  // steps this invocation trained
  StopReason stop = StopReason::Finished;
  int stop_signal = 0;  // the signal number for StopReason::Signal
  bool resumable_stop() const {
    return stop == StopReason::Signal || stop == StopReason::TimeLimit;
  }
  double final_loss = 0, best_loss = 0;
  double final_val_loss = 0;  // 0 when no validation ran
  double tokens_per_s = 0;    // median over steps (first step excluded when > 1)
  double median_step_s = 0;
  uint64_t peak_device_bytes = 0;
  std::string summary_path;
};

class Trainer {
 public:
  Trainer(JobConfig cfg, TrainOptions opt);
  ~Trainer();
  TrainSummary run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A fresh run directory name under `parent`: runs/2026-11-22_06-55-01_default. Throws when
// `job_name` could make it escape `parent` (a '/', "." or "..", or empty).
std::string default_run_dir(const std::string& parent, const std::string& job_name);

}  // namespace mart
