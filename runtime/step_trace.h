// StepTrace: the measured timeline of one training step (common/step_timeline.h, source
// "measured"), from the device's own events. The executor makes one when a step is to be traced
// (Executor::train_step with a timeline; the trainer's train.trace_step) and drops it after; other
// steps have none, so they record no event and allocate nothing for it.
//
// What it gathers, on the lanes and with the kinds the planner's event model uses
// (planner/event_sim.h Resource, planner/schedule.cpp):
//   compute   Forward (block >= 0, or -1 for the embedding), Recompute (a block's forward rerun
//             before its backward), Backward (block, or -1 for the embedding), Head (final norm,
//             classifier and loss, forward and backward), Optimizer (states' step: the gradient
//             norm and the device AdamW): events on the compute stream around the work alone;
//   h2d       Upload (a chunk's parameters, or its accumulated gradients), SwapIn (a block's
//             activations): events on the H2D stream around the copy (ChunkStepTrace, ActTrace);
//   d2h       Offload (a chunk's gradients), SwapOut;
//   cpu_adam  Adam, one span per offloaded chunk: its first tensor's start to its last one's end
//             (host clock);
//   host      Sync: the host waiting for the device (the loss read-back, the end of the step).
// One clock: the start of the step is an event recorded on the compute stream and synchronised
// (the device is idle between steps), and the host clock read right after it; event times are
// elapsed_s from that event, host times are seconds from that reading (on the CPU backend the two
// are the same steady clock; on CUDA the reading lags the event by the synchronise's wake-up, a
// few microseconds). duration_s runs to when everything the step started is done, the CPU updates
// of offloaded chunks included; every span lies inside [0, duration_s].
#pragma once
#include <string>
#include <vector>

#include "common/step_timeline.h"
#include "device/device.h"
#include "memory/chunk_manager.h"

namespace mart {

class ActivationManager;

class StepTrace {
 public:
  // Arms `acts` and `chunks` (null: resident states) for one step and records its start. The
  // device is synchronised first (it is idle between steps; this only makes sure).
  StepTrace(Device& dev, ChunkManager* chunks, ActivationManager& acts);
  // Disarms both (waiting for the chunks' CPU updates in flight when finish() was not called).
  ~StepTrace();
  StepTrace(const StepTrace&) = delete;
  StepTrace& operator=(const StepTrace&) = delete;

  // A compute span: begin records an event on the compute stream, end another and keeps the pair.
  // Spans do not nest; kind is a compute kind (Forward, Recompute, Backward, Head, Optimizer).
  void compute_begin();
  void compute_end(SpanKind kind, int block);
  // Host clock, seconds from the step's start, for host_span.
  double host_now() const;
  void host_span(SpanKind kind, double start_s, double end_s, const std::string& label);

  // Waits for everything the step started (copies, CPU updates), disarms, and returns the spans
  // sorted by start. `step`: the training step it timed.
  StepTimeline finish(int step);

 private:
  struct Compute {
    SpanKind kind;
    int block;
    Event start, end;
  };
  double since_start(const Event& e);  // elapsed_s from the start event, >= 0
  void add_compute(StepTimeline& t);
  void add_chunks(StepTimeline& t);
  void add_swaps(StepTimeline& t);
  void disarm();

  Device& dev_;
  ChunkManager* chunks_;
  ActivationManager& acts_;
  bool acts_traced_before_ = false;  // the activation trace was on already (tests): keep it
  size_t acts_first_ = 0;            // its first entry of this step
  ChunkStepTrace chunk_log_;
  Event start_;
  double host_start_ = 0;  // steady-clock seconds (since its epoch) at start_
  Event open_;             // compute_begin's event, until compute_end
  std::vector<Compute> compute_;
  std::vector<TimelineSpan> host_;
  bool armed_ = false;
};

}  // namespace mart
