// One iteration's schedule as a list of timed spans on lanes: measured (the executor's device
// events, written by `mart train` to RUN/timeline.json) or simulated (the planner's event model,
// drawn by `mart plan --html`). One type for both, so a page can put the prediction next to the
// measurement with the same lanes, kinds and colours.
//
// JSON form (RUN/timeline.json; timeline_to_json / timeline_from_json):
//   {"format": "mart-timeline-1", "source": "measured"|"simulated", "device": "cpu",
//    "step": 2, "duration_s": 0.41,
//    "spans": [{"lane": "compute", "kind": "forward", "start_s": 0.0, "end_s": 0.012,
//               "block": 0, "chunk": -1, "bytes": 0, "label": "forward block 0"}, ...]}
// Times are seconds from the start of the iteration (the first span may start after 0).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "nlohmann/json_fwd.hpp"

namespace mart {

// The queues work runs on; the same five the planner's event model simulates
// (planner/event_sim.h Resource), in the same order.
enum class TimelineLane : uint8_t { Compute, H2D, D2H, CpuAdam, Host };
constexpr int kTimelineLanes = 5;

// What a span does. Copies: Upload (a chunk's parameters host -> device), Offload (a chunk's
// gradients device -> host), SwapOut / SwapIn (a block's activations); compute: Forward,
// Backward, Recompute (a block's forward again before its backward), Head (final norm, classifier
// and loss), Optimizer (the device AdamW of resident chunks); Adam (the CPU AdamW of one offloaded
// chunk); Sync (the host waiting on the device); Other.
enum class SpanKind : uint8_t {
  Forward,
  Backward,
  Recompute,
  Head,
  Optimizer,
  Upload,
  Offload,
  SwapOut,
  SwapIn,
  Adam,
  Sync,
  Other
};
constexpr int kSpanKinds = 12;

const char* lane_name(TimelineLane lane);   // "compute", "h2d", "d2h", "cpu_adam", "host"
const char* span_kind_name(SpanKind kind);  // "forward", ..., "swap_in", "adam", "sync", "other"
// The inverse; false when `name` is not one of them.
bool parse_lane(const std::string& name, TimelineLane* lane);
bool parse_span_kind(const std::string& name, SpanKind* kind);

struct TimelineSpan {
  TimelineLane lane = TimelineLane::Compute;
  SpanKind kind = SpanKind::Other;
  double start_s = 0, end_s = 0;  // end_s >= start_s >= 0
  int block = -1;                 // the transformer block, -1 when none
  int chunk = -1;                 // the model-state chunk, -1 when none
  uint64_t bytes = 0;             // bytes copied (copies), 0 otherwise
  std::string label;              // what a tooltip shows, e.g. "upload chunk 3 (48 MiB)"
};

struct StepTimeline {
  std::string source = "measured";  // "measured" or "simulated"
  std::string device;               // "cpu", "cuda", or the planned hardware's name
  int step = 0;                     // measured: the training step it timed; simulated: 0
  double duration_s = 0;            // the iteration's wall time (>= every span's end_s)
  std::vector<TimelineSpan> spans;

  // Seconds `lane` spent in spans (overlapping spans on one lane count once).
  double busy_s(TimelineLane lane) const;
};

nlohmann::json timeline_to_json(const StepTimeline& t);
// Parses and checks the JSON form; throws mart::Error naming `where` (a file name) and the bad
// field (e.g. "timeline.json: spans[3].lane: unknown lane \"gpu\"").
StepTimeline timeline_from_json(const nlohmann::json& j, const std::string& where);

}  // namespace mart
