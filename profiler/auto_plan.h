// memory.mode: auto in `mart train`: profile the job on its own device (measured, quick), search
// a plan within memory.device_capacity, and rewrite the job config to that plan (memory.mode
// manual with every knob set) before the trainer builds anything.
//
// Why a hook: the trainer lives in mart_runtime, which mart_profiler depends on, so the trainer
// cannot call the profiler directly. The profiler installs itself here (install_auto_planner(),
// called by the launcher and by tests); the trainer looks the hook up and says how to fix it when
// it is missing. Header-only on the trainer's side: no link dependency.
#pragma once
#include "nlohmann/json_fwd.hpp"
#include "runtime/config/job_config.h"

namespace mart {

class Device;
class Ops;

// Rewrites `cfg` to the plan; returns the "planner" object for summary.json (profile source,
// plan, predicted). Throws mart::Error when nothing fits, with the reason and what would fit.
using AutoPlanHook = nlohmann::json (*)(JobConfig& cfg, Device& dev, Ops& ops);
inline AutoPlanHook& auto_plan_hook() {
  static AutoPlanHook hook = nullptr;
  return hook;
}

// Defined in mart_profiler.
nlohmann::json auto_plan_for_training(JobConfig& cfg, Device& dev, Ops& ops);
inline void install_auto_planner() {
  auto_plan_hook() = &auto_plan_for_training;
}

}  // namespace mart
