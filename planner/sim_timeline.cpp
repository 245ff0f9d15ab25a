#include "planner/sim_timeline.h"

#include <algorithm>
#include <cmath>

#include "common/units.h"

namespace mart {
namespace {

static_assert(kResources == kTimelineLanes &&
                  static_cast<int>(Resource::Host) == static_cast<int>(TimelineLane::Host) &&
                  static_cast<int>(Resource::CpuAdam) == static_cast<int>(TimelineLane::CpuAdam),
              "EventSim resources and timeline lanes are in the same order");

// Every operation planner/schedule.cpp issues with work (zero-work "wait" and "sync" never
// become spans). Encode/decode (compress) have no span kind of their own: Other.
constexpr SimOpTraits kSimOpTraits[] = {
    {"embedding", SpanKind::Forward, SimTag::None},
    {"forward", SpanKind::Forward, SimTag::Block},
    {"head", SpanKind::Head, SimTag::None},
    {"recompute", SpanKind::Recompute, SimTag::Block},
    {"backward", SpanKind::Backward, SimTag::Block},
    {"embedding backward", SpanKind::Backward, SimTag::None},
    {"upload", SpanKind::Upload, SimTag::Chunk},
    {"grad upload", SpanKind::Upload, SimTag::Chunk},
    {"offload", SpanKind::Offload, SimTag::Chunk},
    {"cpu adam", SpanKind::Adam, SimTag::Chunk},
    {"zero grads", SpanKind::Optimizer, SimTag::Chunk},
    {"grad sumsq", SpanKind::Optimizer, SimTag::Chunk},
    {"device adam", SpanKind::Optimizer, SimTag::None},
    {"encode", SpanKind::Other, SimTag::Block},
    {"decode", SpanKind::Other, SimTag::Block},
    {"swap out", SpanKind::SwapOut, SimTag::Block},
    {"swap in", SpanKind::SwapIn, SimTag::Block},
    {"cswap out", SpanKind::SwapOut, SimTag::Block},
    {"cswap in", SpanKind::SwapIn, SimTag::Block},
    {"wait", SpanKind::Sync, SimTag::None},
    {"sync", SpanKind::Sync, SimTag::None},
};

// Bytes a copy moves: the schedule prices it as bytes / the lane's solo bandwidth.
uint64_t copy_bytes(Resource r, double work, const HardwareProfile& hw) {
  const double bps = r == Resource::H2D ? hw.h2d_bps : r == Resource::D2H ? hw.d2h_bps : 0;
  return static_cast<uint64_t>(std::llround(work * bps));
}

std::string span_label(const char* name, const SimOpTraits* t, int tag, uint64_t bytes,
                       bool clipped) {
  std::string s = name;
  if (tag >= 0 && t && t->tag != SimTag::None)
    s += (t->tag == SimTag::Block ? " block " : " chunk ") + std::to_string(tag);
  else if (tag >= 0)
    s += " " + std::to_string(tag);
  if (bytes) s += " (" + format_bytes(bytes) + ")";
  if (clipped) s += " [runs across the step boundary]";
  return s;
}

}  // namespace

const SimOpTraits* sim_op_traits(std::string_view name) {
  for (const SimOpTraits& t : kSimOpTraits)
    if (name == t.name) return &t;
  return nullptr;
}

StepTimeline simulated_timeline(const EventSim& sim, const StepWindow& w,
                                const HardwareProfile& hw) {
  StepTimeline tl;
  tl.source = "simulated";
  tl.device = hw.name;
  tl.step = 0;
  tl.duration_s = std::max(0.0, w.t1 - w.t0);
  for (int i = 0; i < sim.size(); ++i) {
    const double s = sim.start(i), e = sim.end(i);
    if (sim.work(i) <= 0 || e <= w.t0 || s >= w.t1) continue;
    const SimOpTraits* t = sim_op_traits(sim.name(i));
    TimelineSpan sp;
    sp.lane = static_cast<TimelineLane>(sim.resource(i));  // same order (step_timeline.h)
    sp.kind = t ? t->kind : SpanKind::Other;
    sp.start_s = std::max(s, w.t0) - w.t0;
    sp.end_s = std::min(e, w.t1) - w.t0;
    const int tag = sim.tag(i);
    if (t && t->tag == SimTag::Block) sp.block = tag;
    if (t && t->tag == SimTag::Chunk) sp.chunk = tag;
    sp.bytes = copy_bytes(sim.resource(i), sim.work(i), hw);
    sp.label = span_label(sim.name(i), t, tag, sp.bytes, s < w.t0 || e > w.t1);
    tl.spans.push_back(std::move(sp));
  }
  return tl;
}

StepTimeline plan_timeline(const Profile& p, const PlanChoice& plan, const CostOptions& opt) {
  CostContext ctx(p, plan.micro_batch, plan.chunk_elems);
  EventSim sim;
  StepWindow w;
  predict_time(ctx, plan, opt, sim, nullptr, &w);
  return simulated_timeline(sim, w, p.hardware);
}

}  // namespace mart
