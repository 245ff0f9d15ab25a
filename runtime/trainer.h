// Trainer: the `mart train` loop. A Session (runtime/session.h) built from the JobConfig holds the
// device, ops, model states and executor; the trainer streams batches, steps the optimizer on the
// warmup+cosine schedule, evaluates, checkpoints, and writes the run directory:
//   RUN/config.yaml      the resolved job config
//   RUN/metrics.jsonl    one object per step: step, loss, lr, grad_norm, step_s, tokens_per_s,
//                        peak_device_bytes (+ val_loss on evaluation steps)
//   RUN/summary.json     final/best loss, throughput, peak memory, the plan used
//   RUN/checkpoints/     see runtime/checkpoint/train_checkpoint.h
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "config/job_config.h"
#include "nlohmann/json_fwd.hpp"
#include "runtime/auto_planner.h"

namespace mart {

struct TrainOptions {
  std::string run_dir;       // required
  bool resume = false;       // continue from run_dir's latest checkpoint
  std::string init_from;     // Hugging Face model.safetensors (or a directory holding one)
  int stop_after = -1;       // stop (with a checkpoint) once this many steps are done; -1: run all
  bool progress = true;      // live progress line on stderr
  AutoPlanner auto_planner;  // memory.mode auto: profile + plan (profiler/auto_plan.h); else unused
};

struct TrainSummary {
  int steps_done = 0;
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

// A fresh run directory name under `parent`: runs/2026-11-22_06-55-01_default.
std::string default_run_dir(const std::string& parent, const std::string& job_name);

}  // namespace mart
