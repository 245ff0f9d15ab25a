// Helpers for the step-trace tests: counting spans of a measured timeline, and a CPU device that
// counts the events recorded on it (so a test can see that an untraced step records none extra).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/step_timeline.h"
#include "device/device.h"
#include "tests/common/forwarding_device.h"

namespace mart::trace_test {

// Spans of `t` that satisfy `pred`.
inline int count_spans(const StepTimeline& t,
                       const std::function<bool(const TimelineSpan&)>& pred) {
  int n = 0;
  for (const TimelineSpan& s : t.spans) n += pred(s) ? 1 : 0;
  return n;
}

inline int count_kind(const StepTimeline& t, SpanKind k, int block) {
  return count_spans(t, [&](const TimelineSpan& s) { return s.kind == k && s.block == block; });
}

inline bool overlaps(const TimelineSpan& a, const TimelineSpan& b) {
  return a.start_s < b.end_s && b.start_s < a.end_s;
}

inline bool is_compute_kind(SpanKind k) {
  return k == SpanKind::Forward || k == SpanKind::Backward || k == SpanKind::Recompute ||
         k == SpanKind::Head || k == SpanKind::Optimizer;
}

// The CPU device, counting record() calls.
class RecordCountingDevice : public testutil::ForwardingDevice {
 public:
  uint64_t records() const { return records_; }

  Event record(StreamId s) override {
    ++records_;
    return ForwardingDevice::record(s);
  }

 private:
  std::atomic<uint64_t> records_{0};
};

}  // namespace mart::trace_test
