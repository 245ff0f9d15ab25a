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
class RecordCountingDevice : public Device {
 public:
  RecordCountingDevice() : inner_(make_cpu_device()) {}
  uint64_t records() const { return records_; }

  Backend backend() const override { return inner_->backend(); }
  std::string name() const override { return inner_->name(); }
  uint64_t free_memory() const override { return inner_->free_memory(); }
  uint64_t total_memory() const override { return inner_->total_memory(); }
  void* raw_malloc(uint64_t bytes) override { return inner_->raw_malloc(bytes); }
  void raw_free(void* p, uint64_t bytes) override { inner_->raw_free(p, bytes); }
  StreamId create_stream(const std::string& n) override { return inner_->create_stream(n); }
  void memcpy_async(void* d, const void* s, size_t n, CopyKind k, StreamId st) override {
    inner_->memcpy_async(d, s, n, k, st);
  }
  void memset_async(void* d, int v, size_t n, StreamId s) override {
    inner_->memset_async(d, v, n, s);
  }
  void host_task(StreamId s, std::function<void()> fn) override {
    inner_->host_task(s, std::move(fn));
  }
  Event record(StreamId s) override {
    ++records_;
    return inner_->record(s);
  }
  void wait(StreamId s, const Event& e) override { inner_->wait(s, e); }
  void synchronize(const Event& e) override { inner_->synchronize(e); }
  bool query(const Event& e) override { return inner_->query(e); }
  void synchronize_stream(StreamId s) override { inner_->synchronize_stream(s); }
  void synchronize() override { inner_->synchronize(); }
  double elapsed_s(const Event& a, const Event& b) override { return inner_->elapsed_s(a, b); }
  double timestamp_s(const Event& e) override { return inner_->timestamp_s(e); }
  void* native_stream(StreamId s) override { return inner_->native_stream(s); }

 private:
  std::unique_ptr<Device> inner_;
  std::atomic<uint64_t> records_{0};
};

}  // namespace mart::trace_test
