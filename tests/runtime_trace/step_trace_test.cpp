// The measured timeline of one step (runtime/step_trace.h) on a chunked run with offloaded
// chunks, swapped blocks and a recomputed block: every span the step's work implies is there, on
// the planner's lanes, counted against the managers' own counters; times lie inside the step;
// compute spans do not overlap; the JSON form reads back. Tracing changes no bit of the results,
// and a step that is not traced records no event more than before (the negative controls). In an
// offloaded run, a prefetch upload overlaps compute.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "runtime/backend.h"
#include "tests/runtime_chunks/chunk_test_util.h"
#include "tests/runtime_trace/trace_test_util.h"

namespace mart::trace_test {
namespace {

using chunks::ChunkRig;
using chunks::RigOptions;
using chunks::RunOptions;

// Five Llama blocks: three swapped (kSwapStages = 2, so the first is copied to the host and back),
// one recomputed, one kept; chunks of 64 KiB, one persistent, the rest offloaded.
RigOptions offload_swap_recompute(const ModelConfig& m) {
  RigOptions o;
  o.chunked = true;
  o.n_persist = 1;
  o.modes = {ActMode::Swap, ActMode::Swap, ActMode::Swap, ActMode::Checkpoint, ActMode::Keep};
  const ModelSpec spec = build_model_spec(m);
  o.n_buffer = min_chunk_buffers(spec, chunks::layout_for(spec, o.chunk_bytes), o.n_persist) + 1;
  return o;
}

ModelConfig five_blocks() {
  return chunks::small_model(ModelFamily::Llama, 5);
}

struct Traced {
  StepTimeline t;
  ChunkManagerStats before, after;  // the chunk manager's counters around the traced step
};

// Step 1 untraced, step 2 traced (grad_accum micro-batches).
Traced trace_step_two(ChunkRig& rig, const RunOptions& r) {
  ChunkManager* cm = chunk_manager_of(*rig.states);
  EXPECT_NE(cm, nullptr);
  rig.session->train_step(chunks::step_batches(rig, 1, r.grad_accum), chunks::hyper_at(r, 1));
  Traced out;
  out.before = cm->stats();
  rig.session->train_step(chunks::step_batches(rig, 2, r.grad_accum), chunks::hyper_at(r, 2),
                          &out.t);
  out.after = cm->stats();
  return out;
}

class StepTraceSpans : public ::testing::TestWithParam<float> {};  // grad_clip: 0 or 1

TEST_P(StepTraceSpans, ChunkedRunWithSwapAndRecomputeHasEverySpan) {
  ChunkRig rig(five_blocks(), offload_swap_recompute(five_blocks()));
  RunOptions r;
  r.grad_accum = 2;
  r.grad_clip = GetParam();
  const Traced tr = trace_step_two(rig, r);
  const StepTimeline& t = tr.t;
  const int L = 5, mbs = r.grad_accum;

  EXPECT_EQ(t.source, "measured");
  EXPECT_EQ(t.device, "cpu");
  EXPECT_EQ(t.step, 2);
  ASSERT_GT(t.duration_s, 0);
  for (TimelineLane lane : {TimelineLane::Compute, TimelineLane::H2D, TimelineLane::D2H,
                            TimelineLane::CpuAdam, TimelineLane::Host})
    EXPECT_GT(count_spans(t, [&](const TimelineSpan& s) { return s.lane == lane; }), 0)
        << "no span on lane " << lane_name(lane);

  // Compute: per micro-batch the embedding, every block forward and backward, the head; the
  // checkpoint block's forward again before its backward; one optimizer step.
  const ActivationManager& acts = rig.exec->activations();
  for (int b = 0; b < L; ++b) {
    EXPECT_EQ(count_kind(t, SpanKind::Forward, b), mbs) << "block " << b;
    EXPECT_EQ(count_kind(t, SpanKind::Backward, b), mbs) << "block " << b;
    EXPECT_EQ(count_kind(t, SpanKind::Recompute, b), acts.mode(b) == ActMode::Checkpoint ? mbs : 0)
        << "block " << b;
  }
  EXPECT_EQ(count_kind(t, SpanKind::Forward, -1), mbs);   // embedding
  EXPECT_EQ(count_kind(t, SpanKind::Backward, -1), mbs);  // embedding
  EXPECT_EQ(count_kind(t, SpanKind::Head, -1), mbs);
  EXPECT_EQ(count_kind(t, SpanKind::Optimizer, -1), 1);
  EXPECT_EQ(count_spans(t, [](const TimelineSpan& s) { return s.kind == SpanKind::Sync; }),
            mbs + 1);  // each micro-batch's loss read-back, the end of the step

  // Swaps: a host-backed swap block goes out and comes back once per micro-batch, nothing else.
  int host_backed = 0;
  for (int b = 0; b < L; ++b) {
    const bool copied = acts.stats().blocks[b].host_bytes > 0;
    host_backed += copied;
    EXPECT_EQ(count_kind(t, SpanKind::SwapOut, b), copied ? mbs : 0) << "block " << b;
    EXPECT_EQ(count_kind(t, SpanKind::SwapIn, b), copied ? mbs : 0) << "block " << b;
  }
  EXPECT_GT(host_backed, 0) << "the rig must swap at least one block to the host";
  for (const TimelineSpan& s : t.spans)
    if (s.kind == SpanKind::SwapOut || s.kind == SpanKind::SwapIn) {
      EXPECT_EQ(s.bytes, acts.body_bytes()) << s.label;
      EXPECT_EQ(s.lane, s.kind == SpanKind::SwapOut ? TimelineLane::D2H : TimelineLane::H2D);
    }

  // Chunk copies: exactly what the chunk manager counted during the step.
  auto uploads = [](const TimelineSpan& s) {
    return s.kind == SpanKind::Upload && s.label.rfind("upload", 0) == 0;
  };
  auto grad_uploads = [](const TimelineSpan& s) {
    return s.kind == SpanKind::Upload && s.label.rfind("grad upload", 0) == 0;
  };
  auto offloads = [](const TimelineSpan& s) { return s.kind == SpanKind::Offload; };
  uint64_t up_bytes = 0, off_bytes = 0;
  for (const TimelineSpan& s : t.spans) {
    if (uploads(s)) up_bytes += s.bytes;
    if (offloads(s)) off_bytes += s.bytes;
    if (s.kind == SpanKind::Upload || s.kind == SpanKind::Offload) {
      EXPECT_GE(s.chunk, 1) << "the persistent chunk 0 is never copied: " << s.label;
      EXPECT_EQ(s.lane, s.kind == SpanKind::Upload ? TimelineLane::H2D : TimelineLane::D2H);
    }
  }
  EXPECT_EQ(count_spans(t, uploads), static_cast<int>(tr.after.uploads - tr.before.uploads));
  EXPECT_EQ(count_spans(t, grad_uploads),
            static_cast<int>(tr.after.grad_reuploads - tr.before.grad_reuploads));
  EXPECT_GT(count_spans(t, grad_uploads), 0) << "two micro-batches accumulate gradients";
  EXPECT_EQ(count_spans(t, offloads), static_cast<int>(tr.after.offloads - tr.before.offloads));
  EXPECT_EQ(up_bytes, tr.after.upload_bytes - tr.before.upload_bytes);
  EXPECT_EQ(off_bytes, tr.after.offload_bytes - tr.before.offload_bytes);

  // CPU Adam: one span per offloaded chunk.
  ChunkManager* cm = chunk_manager_of(*rig.states);
  const int n_chunks = cm->layout().n_chunks(), np = cm->n_persist();
  for (int c = 0; c < n_chunks; ++c)
    EXPECT_EQ(count_spans(t,
                          [&](const TimelineSpan& s) {
                            return s.kind == SpanKind::Adam && s.chunk == c &&
                                   s.lane == TimelineLane::CpuAdam;
                          }),
              c < np ? 0 : 1)
        << "chunk " << c;

  // Times: inside the step; compute spans follow one another.
  std::vector<TimelineSpan> compute;
  for (const TimelineSpan& s : t.spans) {
    EXPECT_GE(s.start_s, 0) << s.label;
    EXPECT_LE(s.start_s, s.end_s) << s.label;
    EXPECT_LE(s.end_s, t.duration_s) << s.label;
    if (s.lane == TimelineLane::Compute) {
      EXPECT_TRUE(is_compute_kind(s.kind)) << s.label;
      compute.push_back(s);
    }
  }
  std::sort(compute.begin(), compute.end(),
            [](const TimelineSpan& a, const TimelineSpan& b) { return a.start_s < b.start_s; });
  for (size_t i = 1; i < compute.size(); ++i)
    EXPECT_LE(compute[i - 1].end_s, compute[i].start_s)
        << compute[i - 1].label << " overlaps " << compute[i].label;

  // The JSON form reads back span for span.
  const StepTimeline back = timeline_from_json(timeline_to_json(t), "timeline.json");
  ASSERT_EQ(back.spans.size(), t.spans.size());
  EXPECT_EQ(back.step, 2);
  EXPECT_EQ(back.duration_s, t.duration_s);
  for (size_t i = 0; i < t.spans.size(); ++i) {
    EXPECT_EQ(back.spans[i].kind, t.spans[i].kind);
    EXPECT_EQ(back.spans[i].lane, t.spans[i].lane);
    EXPECT_EQ(back.spans[i].start_s, t.spans[i].start_s);
    EXPECT_EQ(back.spans[i].bytes, t.spans[i].bytes);
  }
}

INSTANTIATE_TEST_SUITE_P(Clip, StepTraceSpans, ::testing::Values(0.0f, 1.0f),
                         [](const auto& info) { return info.param > 0 ? "clip" : "no_clip"; });

// A resident run with kept blocks: compute and host spans only, nothing on the copy lanes.
TEST(StepTrace, ResidentRunHasOnlyComputeAndHostSpans) {
  RigOptions o;
  ChunkRig rig(chunks::small_model(ModelFamily::GPT2, 3), o);
  RunOptions r;
  StepTimeline t;
  rig.session->train_step(chunks::step_batches(rig, 1, 1), chunks::hyper_at(r, 1), &t);
  EXPECT_EQ(t.step, 1);
  EXPECT_EQ(count_kind(t, SpanKind::Forward, 0), 1);
  EXPECT_EQ(count_kind(t, SpanKind::Optimizer, -1), 1);
  EXPECT_EQ(count_spans(t,
                        [](const TimelineSpan& s) {
                          return s.lane != TimelineLane::Compute && s.lane != TimelineLane::Host;
                        }),
            0);
}

// Tracing a step changes no bit; a step that is not traced records no extra event, and the
// activation manager's trace is off again after the traced step.
TEST(StepTrace, TracedStepIsBitwiseTheUntracedOneAndUntracedStepsRecordNothing) {
  const ModelConfig m = five_blocks();
  const RigOptions o = offload_swap_recompute(m);
  RunOptions r;
  r.grad_accum = 2;
  r.grad_clip = 1.0f;
  struct Run {
    std::vector<double> losses;
    std::vector<float> norms;
    std::vector<uint64_t> records;  // events recorded per step
  };
  auto run = [&](int traced_step) {
    RecordCountingDevice dev;
    auto ops = make_ops(dev);
    SessionOptions so = chunks::chunk_rig_options(o);
    so.device = &dev;
    so.ops = ops.get();
    Session s(chunks::chunk_rig_job(m, o), std::move(so));
    s.init_weights(o.seed);
    Run out;
    for (int k = 1; k <= 4; ++k) {
      std::vector<MicroBatch> mbs;
      for (int i = 0; i < r.grad_accum; ++i)
        mbs.push_back(chunks::random_batch(o.B, o.T, m.vocab_size, 1000u * k + i));
      StepTimeline t;
      const uint64_t rec0 = dev.records();
      const StepResult sr =
          s.train_step(mbs, chunks::hyper_at(r, k), k == traced_step ? &t : nullptr);
      out.records.push_back(dev.records() - rec0);
      out.losses.push_back(sr.loss);
      out.norms.push_back(sr.grad_norm);
      if (k == traced_step) {
        EXPECT_FALSE(t.spans.empty());
      }
      EXPECT_TRUE(s.executor().activations().trace().empty()) << "step " << k;
    }
    return out;
  };
  const Run plain = run(0), traced = run(2);
  ASSERT_EQ(plain.losses.size(), traced.losses.size());
  for (size_t i = 0; i < plain.losses.size(); ++i) {
    EXPECT_EQ(plain.losses[i], traced.losses[i]) << "step " << i + 1;
    EXPECT_EQ(plain.norms[i], traced.norms[i]) << "step " << i + 1;
  }
  // Steps 3 and 4 record as many events after a traced step as without one; step 2 more.
  EXPECT_GT(traced.records[1], plain.records[1]);
  EXPECT_EQ(traced.records[2], plain.records[2]);
  EXPECT_EQ(traced.records[3], plain.records[3]);
}

// With the whole model offloaded and room to prefetch, some upload of a chunk runs while a block
// computes (the structural fact the chunk manager's overlap tests show, here in the timeline).
TEST(StepTrace, AnUploadOverlapsCompute) {
  ModelConfig m = chunks::small_model(ModelFamily::Llama, 4, 256);
  m.n_head = 8;
  m.n_kv_head = 4;
  m.d_ff = 512;
  m.vocab_size = 256;
  RigOptions o;
  o.chunked = true;
  o.chunk_bytes = 1 << 20;
  o.B = 4;
  o.T = 64;
  o.n_persist = 0;
  const ModelSpec spec = build_model_spec(m);
  const ChunkLayout L = chunks::layout_for(spec, o.chunk_bytes);
  o.n_buffer = 2 * min_chunk_buffers(spec, L, 0);
  ASSERT_LT(o.n_buffer, L.n_chunks()) << "the buffers must not hold the whole model";
  ChunkRig rig(m, o);
  RunOptions r;
  int overlapping = 0, steps = 0;
  for (int k = 1; k <= 10 && overlapping == 0; ++k, ++steps) {
    StepTimeline t;
    rig.session->train_step(chunks::step_batches(rig, k, 1), chunks::hyper_at(r, k), &t);
    for (const TimelineSpan& up : t.spans) {
      if (up.kind != SpanKind::Upload) continue;
      for (const TimelineSpan& c : t.spans)
        if (c.lane == TimelineLane::Compute && c.block >= 0 && overlaps(up, c)) ++overlapping;
    }
  }
  EXPECT_GT(overlapping, 0) << "no upload overlapped a block's compute in " << steps << " steps";
}

}  // namespace
}  // namespace mart::trace_test
