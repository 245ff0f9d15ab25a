// The page of `mart plan --html PLAN.html [--measured RUN_DIR]`: one self-contained HTML file
// (report/html.h) that shows a plan the way `mart plan --explain` tells it:
//   #summary          fits?, predicted iteration time, tokens/s, MFU, device peak against the
//                     budget, the binding resource and why (or, when nothing fits, why not and
//                     what would fit)
//   #plan             micro-batch and accumulation, chunks, persistent chunks, buffers
//   #memory           stacked bars of the plan's exact memory regions (planner/memory_regions.h):
//                     the device arena against the device budget, pinned and pageable host memory
//                     against host memory (pinned limit marked); when nothing fits, of the plan
//                     nearest to fitting, showing what overflows and by how much
//   #timeline         the simulated steady-state iteration (planner/sim_timeline.h); only when
//                     the job fits
//   #block-modes      the activation mode of every block
//   #runner-ups       the other plans the search kept: modes, predicted time, peak, why they lost
//   #measured-timeline, #predicted-vs-measured   with a measured run: RUN/timeline.json drawn on
//                     the simulated timeline's time scale, and the predicted against the measured
//                     iteration time, device peak (RUN/summary.json) and per-lane busy time
// The page needs no device and reads no file but the measured run's.
#pragma once
#include <cstdint>
#include <string>

#include "common/step_timeline.h"
#include "planner/search.h"
#include "report/html.h"

namespace mart {

// What a training run measured, for comparison with its plan.
struct MeasuredRun {
  std::string dir;
  StepTimeline timeline;     // RUN/timeline.json
  bool has_summary = false;  // RUN/summary.json was there (a run still going has none yet)
  uint64_t peak_device_bytes = 0;
  double median_step_s = 0, tokens_per_s = 0;
  std::string device;
};

// Reads RUN_DIR/timeline.json (required: a missing file is an error saying to train with
// train.trace_step set) and RUN_DIR/summary.json (optional). Throws mart::Error naming the file
// and the bad field.
MeasuredRun load_measured_run(const std::string& run_dir);

struct PlanPageInput {
  std::string job;           // what was planned (the config's path or name)
  std::string profile_note;  // where the profile came from
  const Profile* profile = nullptr;
  const SearchOptions* options = nullptr;  // global batch, the cost options the search used
  const SearchResult* result = nullptr;
  const MeasuredRun* measured = nullptr;  // optional
};

HtmlPage plan_page(const PlanPageInput& in);

}  // namespace mart
