// memory.mode: auto needs a planner that profiles the job on its own device and rewrites the job
// config to a plan. The trainer (and the Session) cannot call the profiler (mart_profiler depends
// on mart_runtime), so whoever builds them passes one in: the launcher and tests pass
// mart::auto_plan_for_training (profiler/auto_plan.h). No global state.
#pragma once
#include <functional>

#include "config/job_config.h"
#include "nlohmann/json_fwd.hpp"

namespace mart {

class Device;
class Ops;

// Rewrites `cfg` to the plan (memory.mode manual with every knob set); returns the "planner"
// object for summary.json (profile source, plan, predicted). Throws mart::Error when nothing
// fits, with the reason and what would fit.
using AutoPlanner = std::function<nlohmann::json(JobConfig& cfg, Device& dev, Ops& ops)>;

}  // namespace mart
