// memory.mode: auto in `mart train`: profile the job on its own device (measured, quick), search
// a plan within memory.device_capacity, and rewrite the job config to that plan (memory.mode
// manual with every knob set) before the trainer builds anything. Passed to the trainer as its
// AutoPlanner (runtime/auto_planner.h) by the launcher and by tests.
#pragma once
#include "config/job_config.h"
#include "nlohmann/json_fwd.hpp"
#include "runtime/auto_planner.h"

namespace mart {

class Device;
class Ops;

// An AutoPlanner: rewrites `cfg` to the plan; returns the "planner" object for summary.json
// (profile source, plan, predicted). Throws mart::Error when nothing fits, with the reason and
// what would fit.
nlohmann::json auto_plan_for_training(JobConfig& cfg, Device& dev, Ops& ops);
// The same planner with [profile] and [plan] progress lines on stderr when `progress` (`mart
// train` without --no-progress); auto_plan_for_training itself shows none.
AutoPlanner auto_planner_with_progress(bool progress);

}  // namespace mart
