// Swap copies run on the copy streams while blocks compute: with tracing on, the manager records
// device events around every block's forward/backward (compute stream) and every swap copy (copy
// streams). The copies are ordered correctly (a swap-out starts after its block's forward, a
// swap-in ends before its block's backward) and at least one copy overlaps another block's
// compute. The CPU device's copy streams are worker threads, so this is real concurrency; on two
// busy cores a copy may be starved in one step, hence several steps and "at least one". Both
// lanes: swap (raw bodies) and compress_swap (encodings, prefetched right after the decode).
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/runtime_acts/acts_util.h"

namespace mart::acts_test {
namespace {

struct Interval {
  ActTraceEntry::Kind kind;
  int block;
  double start, end;
};

std::vector<Interval> timeline(Device& dev, const std::vector<ActTraceEntry>& trace) {
  dev.synchronize();
  std::vector<Interval> out;
  for (const auto& e : trace)
    out.push_back({e.kind, e.block, dev.timestamp_s(e.start), dev.timestamp_s(e.end)});
  return out;
}

bool is_copy(const Interval& i) {
  return i.kind == ActTraceEntry::SwapOut || i.kind == ActTraceEntry::SwapIn;
}

class SwapOverlap : public ::testing::TestWithParam<ActMode> {};

TEST_P(SwapOverlap, CopiesAreOrderedAndOverlapCompute) {
  // Bodies of ~2.6 MB and blocks that compute for milliseconds, longer than a busy machine's
  // thread wake-up latency.
  ModelConfig m = tiny_model(ModelFamily::Llama, 6, 128);
  const int B = 4, T = 64;
  const ActMode X = GetParam();
  const Modes modes = {X, X, X, X, K, K};
  ActivationOptions ao;
  ao.trace = true;
  Rig rig(m, B, T, modes, ao);
  Batches data(B, T);
  int overlaps = 0, copies = 0;
  double overlap_s = 0;
  int steps = 0;
  for (int step = 1; step <= 20 && overlaps == 0; ++step, ++steps) {
    const_cast<ActivationManager&>(rig.acts()).clear_trace();
    rig.exec->train_step({data.next()}, hyper(step));
    const auto tl = timeline(*rig.dev, rig.acts().trace());
    for (const Interval& c : tl) {
      if (!is_copy(c)) continue;
      ++copies;
      for (const Interval& k : tl) {
        if (is_copy(k) || k.block != c.block) continue;
        // Order, enforced by events: out after the block's forward, in before its backward.
        if (c.kind == ActTraceEntry::SwapOut && k.kind == ActTraceEntry::Forward) {
          EXPECT_GE(c.start, k.end) << "swap-out of block " << c.block << " before its forward";
        }
        if (c.kind == ActTraceEntry::SwapIn && k.kind == ActTraceEntry::Backward) {
          EXPECT_LE(c.end, k.start) << "swap-in of block " << c.block << " after its backward";
        }
      }
      for (const Interval& k : tl) {
        if (is_copy(k) || k.block == c.block) continue;
        const double o = std::min(c.end, k.end) - std::max(c.start, k.start);
        if (o > 0) {
          ++overlaps;
          overlap_s += o;
        }
      }
    }
  }
  // Blocks 0 and 1 go out and come back; blocks 2 and 3 stay in their staging slots.
  EXPECT_GT(copies, 0);
  EXPECT_GE(overlaps, 1) << "no swap copy overlapped any block's compute in 20 steps";
  RecordProperty("steps", steps);
  RecordProperty("overlapping_intervals", overlaps);
  RecordProperty("overlap_us", static_cast<int>(overlap_s * 1e6));
}

INSTANTIATE_TEST_SUITE_P(Lanes, SwapOverlap, ::testing::Values(S, W),
                         [](const ::testing::TestParamInfo<ActMode>& i) {
                           return std::string(act_mode_name(i.param));
                         });

}  // namespace
}  // namespace mart::acts_test
