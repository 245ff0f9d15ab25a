// Internal to the host allocator (memory/host_allocator.h): the counters every host pool keeps.
//
// - Gauge: a current value and its peak, lock-free; in_use, reserved, pinned and live_blocks of
//   every node and of the total are gauges.
// - WarningLog: the degraded modes the allocator runs in (memory not pinned, not bound, jemalloc
//   refused), each recorded once; HostAllocatorStats::warnings.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace mart::host_detail {

// A current value and the largest value it ever took, lock-free: the peak is raised with the exact
// value each add produced, so it is the true maximum of the linearised sequence of values.
struct Gauge {
  std::atomic<uint64_t> cur{0};
  std::atomic<uint64_t> peak{0};
  void add(uint64_t n) { raise(cur.fetch_add(n, std::memory_order_relaxed) + n); }
  void sub(uint64_t n) { cur.fetch_sub(n, std::memory_order_relaxed); }
  // Adds n unless the result would exceed limit.
  bool try_add(uint64_t n, uint64_t limit) {
    uint64_t v = cur.load(std::memory_order_relaxed);
    do {
      if (v + n > limit) return false;
    } while (!cur.compare_exchange_weak(v, v + n, std::memory_order_relaxed));
    raise(v + n);
    return true;
  }
  void raise(uint64_t v) {
    uint64_t p = peak.load(std::memory_order_relaxed);
    while (v > p && !peak.compare_exchange_weak(p, v, std::memory_order_relaxed)) {
    }
  }
  void reset_peak() { peak.store(cur.load(std::memory_order_relaxed), std::memory_order_relaxed); }
  uint64_t now() const { return cur.load(std::memory_order_relaxed); }
  uint64_t max() const { return peak.load(std::memory_order_relaxed); }
};

// Messages about degraded modes, each kept once, in the order first seen. Thread-safe.
class WarningLog {
 public:
  void add(const std::string& msg) {
    std::lock_guard<std::mutex> lock(mu_);
    if (std::find(list_.begin(), list_.end(), msg) == list_.end()) list_.push_back(msg);
  }
  std::vector<std::string> all() const {
    std::lock_guard<std::mutex> lock(mu_);
    return list_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> list_;
};

}  // namespace mart::host_detail
