// The planner's simulated iteration as a StepTimeline (common/step_timeline.h): the type the
// executor's measured timeline (RUN/timeline.json) has too, so `mart plan --html` can draw the
// prediction and the measurement with the same lanes, kinds and colours.
//
// The schedule (planner/schedule.cpp) names its operations ("upload", "forward", "cpu adam", ...)
// and tags them with a block or a chunk; kSimOpTraits maps each name to a span kind and says what
// its tag is. One span per operation with work that overlaps the reported (last, steady-state)
// step, clipped to it and shifted so the step starts at 0: the tail of the previous step's CPU
// Adam that runs into this one is part of the steady state the trainer measures. Lanes are the
// EventSim resources (same order as TimelineLane). Copies carry their bytes (work times the
// hardware's bandwidth: the schedule prices a copy as bytes / bandwidth).
#pragma once
#include <cstdint>
#include <string_view>

#include "common/step_timeline.h"
#include "planner/cost_model.h"

namespace mart {

enum class SimTag : uint8_t { None, Block, Chunk };  // what an operation's tag counts

struct SimOpTraits {
  const char* name;  // as planner/schedule.cpp issues it
  SpanKind kind;
  SimTag tag;
};

// The traits of a schedule operation name; nullptr when the table does not know it (a new
// operation in schedule.cpp must get a row: a test walks every operation of several plans).
const SimOpTraits* sim_op_traits(std::string_view name);

// The reported step of a simulation predict_time ran (its `window`), as spans.
StepTimeline simulated_timeline(const EventSim& sim, const StepWindow& window,
                                const HardwareProfile& hw);

// Simulates one plan (as evaluate_plan does) and returns its steady-state iteration.
StepTimeline plan_timeline(const Profile& p, const PlanChoice& plan, const CostOptions& opt);

}  // namespace mart
