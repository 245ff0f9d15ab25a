#include "runtime/step_trace.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <utility>

#include "common/error.h"
#include "common/units.h"
#include "memory/activation_manager.h"

namespace mart {
namespace {

double steady_now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// "forward block 3", "embedding backward", "head", ...
std::string compute_label(SpanKind kind, int block) {
  const std::string what = span_kind_name(kind);
  if (kind == SpanKind::Head || kind == SpanKind::Optimizer) return what;
  if (block < 0) return "embedding " + what;
  return what + " block " + std::to_string(block);
}

TimelineLane copy_lane(ChunkStepTrace::Copy::Kind k) {
  return k == ChunkStepTrace::Copy::Offload ? TimelineLane::D2H : TimelineLane::H2D;
}

const char* copy_name(ChunkStepTrace::Copy::Kind k) {
  switch (k) {
    case ChunkStepTrace::Copy::Upload:
      return "upload";
    case ChunkStepTrace::Copy::GradUpload:
      return "grad upload";
    case ChunkStepTrace::Copy::Offload:
      return "offload";
  }
  return "copy";
}

}  // namespace

StepTrace::StepTrace(Device& dev, ChunkManager* chunks, ActivationManager& acts)
    : dev_(dev), chunks_(chunks), acts_(acts) {
  dev_.synchronize();
  start_ = dev_.record(kComputeStream);
  dev_.synchronize(start_);
  host_start_ = steady_now_s();
  acts_traced_before_ = acts_.tracing();
  if (!acts_traced_before_) acts_.clear_trace();
  acts_first_ = acts_.trace().size();
  acts_.set_trace(true);
  if (chunks_) chunks_->set_step_trace(&chunk_log_);
  armed_ = true;
}

StepTrace::~StepTrace() {
  try {
    if (armed_ && chunks_) chunks_->synchronize();  // no update may report into chunk_log_ later
  } catch (...) {
  }
  disarm();
}

void StepTrace::disarm() {
  if (!armed_) return;
  acts_.set_trace(acts_traced_before_);
  if (chunks_) chunks_->set_step_trace(nullptr);
  armed_ = false;
}

void StepTrace::compute_begin() {
  MART_CHECK(!open_, "step trace: compute_begin while a compute span is open (spans do not nest)");
  open_ = dev_.record(kComputeStream);
}

void StepTrace::compute_end(SpanKind kind, int block) {
  MART_CHECK(open_ != nullptr, "step trace: compute_end without compute_begin");
  compute_.push_back({kind, block, std::move(open_), dev_.record(kComputeStream)});
  open_ = nullptr;
}

double StepTrace::host_now() const {
  return steady_now_s() - host_start_;
}

void StepTrace::host_span(SpanKind kind, double start_s, double end_s, const std::string& label) {
  TimelineSpan s;
  s.lane = TimelineLane::Host;
  s.kind = kind;
  s.start_s = std::max(0.0, start_s);
  s.end_s = std::max(s.start_s, end_s);
  s.label = label;
  host_.push_back(std::move(s));
}

double StepTrace::since_start(const Event& e) {
  return std::max(0.0, dev_.elapsed_s(start_, e));
}

void StepTrace::add_compute(StepTimeline& t) {
  for (const Compute& c : compute_) {
    TimelineSpan s;
    s.lane = TimelineLane::Compute;
    s.kind = c.kind;
    s.start_s = since_start(c.start);
    s.end_s = std::max(s.start_s, since_start(c.end));
    s.block = c.block;
    s.label = compute_label(c.kind, c.block);
    t.spans.push_back(std::move(s));
  }
}

void StepTrace::add_chunks(StepTimeline& t) {
  for (const ChunkStepTrace::Copy& c : chunk_log_.copies) {
    TimelineSpan s;
    s.lane = copy_lane(c.kind);
    s.kind = c.kind == ChunkStepTrace::Copy::Offload ? SpanKind::Offload : SpanKind::Upload;
    s.start_s = since_start(c.start);
    s.end_s = std::max(s.start_s, since_start(c.end));
    s.chunk = c.chunk;
    s.bytes = c.bytes;
    s.label = std::string(copy_name(c.kind)) + " chunk " + std::to_string(c.chunk) + " (" +
              format_bytes(c.bytes) + ")";
    t.spans.push_back(std::move(s));
  }
  // CPU AdamW: one span per chunk, from its first tensor's start to its last one's end.
  std::map<int, std::pair<double, double>> per_chunk;
  std::map<int, int> tensors;
  std::lock_guard<std::mutex> lk(chunk_log_.mu);  // every update has reported (synchronised)
  for (const ChunkStepTrace::Update& u : chunk_log_.updates) {
    auto [it, fresh] = per_chunk.try_emplace(u.chunk, u.start_s, u.end_s);
    if (!fresh) {
      it->second.first = std::min(it->second.first, u.start_s);
      it->second.second = std::max(it->second.second, u.end_s);
    }
    ++tensors[u.chunk];
  }
  for (const auto& [chunk, range] : per_chunk) {
    TimelineSpan s;
    s.lane = TimelineLane::CpuAdam;
    s.kind = SpanKind::Adam;
    s.start_s = std::max(0.0, range.first - host_start_);
    s.end_s = std::max(s.start_s, range.second - host_start_);
    s.chunk = chunk;
    s.label = "cpu adam chunk " + std::to_string(chunk) + " (" + std::to_string(tensors[chunk]) +
              " tensors)";
    t.spans.push_back(std::move(s));
  }
}

void StepTrace::add_swaps(StepTimeline& t) {
  const std::vector<ActTraceEntry>& all = acts_.trace();
  for (size_t i = acts_first_; i < all.size(); ++i) {
    const ActTraceEntry& e = all[i];
    if (e.kind != ActTraceEntry::SwapOut && e.kind != ActTraceEntry::SwapIn) continue;
    const bool out = e.kind == ActTraceEntry::SwapOut;
    TimelineSpan s;
    s.lane = out ? TimelineLane::D2H : TimelineLane::H2D;
    s.kind = out ? SpanKind::SwapOut : SpanKind::SwapIn;
    s.start_s = since_start(e.start);
    s.end_s = std::max(s.start_s, since_start(e.end));
    s.block = e.block;
    s.bytes = e.bytes;
    s.label = std::string(out ? "swap out" : "swap in") + " block " + std::to_string(e.block) +
              " (" + format_bytes(e.bytes) + ")";
    t.spans.push_back(std::move(s));
  }
}

StepTimeline StepTrace::finish(int step) {
  MART_CHECK(armed_, "step trace: finish called twice");
  if (chunks_)
    chunks_->synchronize();  // copies and the CPU updates of offloaded chunks
  else
    dev_.synchronize();
  const double end = host_now();
  StepTimeline t;
  t.source = "measured";
  t.device = backend_name(dev_.backend());
  t.step = step;
  add_compute(t);
  add_chunks(t);
  add_swaps(t);
  for (TimelineSpan& s : host_) t.spans.push_back(std::move(s));
  host_.clear();
  if (!acts_traced_before_) acts_.clear_trace();
  disarm();
  t.duration_s = end;
  for (const TimelineSpan& s : t.spans) t.duration_s = std::max(t.duration_s, s.end_s);
  std::stable_sort(
      t.spans.begin(), t.spans.end(),
      [](const TimelineSpan& a, const TimelineSpan& b) { return a.start_s < b.start_s; });
  return t;
}

}  // namespace mart
