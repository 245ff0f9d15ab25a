// Stopping a run early and safely: on a signal (Slurm preemption, Ctrl-C) or before a time limit,
// the trainer finishes the step in flight, writes its metrics line and a checkpoint, and returns a
// resumable stop; `mart train` then exits with kExitResumable.
//
// Nothing here is installed globally: the launcher (or any caller) makes a ScopedStopSignals for
// the life of one run and passes its flag to the trainer (TrainOptions::stop_flag); a library user
// (the C API) gets no handlers. Tests pass their own std::atomic<int> instead of signals.
#pragma once
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <string>
#include <vector>

namespace mart {

// `mart train`'s status for "stopped early by a signal or time limit; resume with --resume RUN"
// (EX_TEMPFAIL from sysexits.h: a temporary failure, try again).
inline constexpr int kExitResumable = 75;

// "TERM" (or "SIGTERM") -> SIGTERM; throws mart::Error listing the accepted names.
int stop_signal_number(const std::string& name);
// SIGTERM -> "SIGTERM"; other numbers -> "signal N".
std::string stop_signal_name(int sig);

// Installs async-signal-safe handlers for `names` (train.stop_signals) and restores the previous
// dispositions when destroyed. The first signal stores its number in flag() and prints one line;
// a second one (any of them) restores the default disposition and re-raises, so the process dies
// at once as if no handler had been installed. A signal the process inherited as ignored
// (nohup's HUP, INT in a shell's background job) stays ignored. One instance at a time.
class ScopedStopSignals {
 public:
  explicit ScopedStopSignals(const std::vector<std::string>& names);
  ~ScopedStopSignals();
  ScopedStopSignals(const ScopedStopSignals&) = delete;
  ScopedStopSignals& operator=(const ScopedStopSignals&) = delete;
  // 0 until a signal arrives, then its number.
  const std::atomic<int>* flag() const;
  // Leaves the handlers installed after this object is destroyed, until the process exits: the
  // launcher calls it once a run has finished, so a signal arriving while the process returns
  // through main and exit() only sets the flag, instead of killing a completed run with status
  // 128+N (a supervisor would take that for a failure).
  void keep_until_exit() { restore_on_destroy_ = false; }

 private:
  std::vector<int> sigs_;
  std::vector<struct sigaction> old_;
  bool restore_on_destroy_ = true;
};

// Seconds left in the Slurm job (SLURM_JOB_END_TIME, epoch seconds, set in the job's environment
// by Slurm >= 20.11) at `now_epoch`; +infinity when unset or not a number. A time limit raised
// later with `scontrol update` is not seen (the variable is fixed at job start).
double slurm_seconds_left(const char* end_time_env, double now_epoch);

// Decides, before each step, whether the run must stop now to finish its final checkpoint before
// the deadline. Rule: stop when now + 1.5 x (step + checkpoint) > deadline, where step is the
// longest step measured in this invocation (including evaluation) and checkpoint the longest
// checkpoint write measured (or, before any, the checkpoint load time on resume, else the longest
// step). The 1.5 factor absorbs jitter: a slower step or a checkpoint slowed by a full page cache.
// Before the first step nothing is measured, so it runs unless the deadline has passed.
class DeadlineGuard {
 public:
  static constexpr double kNone = std::numeric_limits<double>::infinity();
  explicit DeadlineGuard(double deadline = kNone) : deadline_(deadline) {}
  bool active() const { return deadline_ != kNone; }
  double deadline() const { return deadline_; }
  void step_took(double s) { step_ = std::max(step_, s); }
  void checkpoint_took(double s) { ckpt_ = std::max(ckpt_, s); }
  // The time the final step and checkpoint need (0 before any step is measured).
  double margin() const;
  bool must_stop(double now) const { return active() && now + margin() >= deadline_; }

 private:
  double deadline_;
  double step_ = 0, ckpt_ = 0;
};

}  // namespace mart
