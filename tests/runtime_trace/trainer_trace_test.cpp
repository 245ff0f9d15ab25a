// `mart train` and train.trace_step: the trainer writes RUN/timeline.json for that step, which
// timeline_from_json reads; with trace_step 0 it writes none and the losses are bitwise those of
// the traced run; a resume that starts past the traced step leaves the earlier file as it was, and
// one that starts before it writes it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "config/config_validate.h"
#include "runtime/trainer.h"
#include "tests/common/test_util.h"
#include "tests/runtime_chunks/chunk_test_util.h"
#include "tests/runtime_trace/trace_test_util.h"

namespace mart::trace_test {
namespace {

namespace fs = std::filesystem;

using testutil::read_all;
using testutil::TempDir;

// Four Llama blocks, every chunk but one offloaded, one block swapped and one recomputed.
JobConfig offload_job(int trace_step) {
  JobConfig c;
  c.name = "trace";
  c.model = chunks::small_model(ModelFamily::Llama, 4);
  c.data.synthetic_vocab = std::min(c.data.synthetic_vocab, c.model.vocab_size);
  c.data.synthetic_branching = std::min(c.data.synthetic_branching, c.data.synthetic_vocab);
  c.train.micro_batch = 2;
  c.train.seq_len = 16;
  c.train.grad_accum = 2;
  c.train.steps = 4;
  c.train.warmup_steps = 1;
  c.train.eval_every = 0;
  c.train.trace_step = trace_step;
  c.memory.mode = "manual";
  c.memory.n_persist = 1;
  c.memory.n_buffer = 4;
  c.memory.chunk_size = chunks::kSmallChunkBytes;
  c.activations.modes = {"swap", "checkpoint", "keep", "keep"};
  validate(c);
  return c;
}

std::vector<double> losses(const std::string& dir) {
  std::vector<double> out;
  std::ifstream in(dir + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line).at("loss").get<double>());
  return out;
}

TrainSummary train(const JobConfig& c, const std::string& dir, int stop_after = -1,
                   bool resume = false) {
  TrainOptions o;
  o.run_dir = dir;
  o.progress = false;
  o.stop_after = stop_after;
  o.resume = resume;
  return Trainer(c, o).run();
}

TEST(TrainerTrace, WritesTheTimelineOfTraceStepAndNoneWhenOff) {
  TempDir tmp;
  const std::string on = tmp.file("on"), off = tmp.file("off");
  train(offload_job(3), on);
  train(offload_job(0), off);

  ASSERT_TRUE(fs::exists(on + "/timeline.json"));
  EXPECT_FALSE(fs::exists(off + "/timeline.json")) << "trace_step 0 must write no timeline";
  const StepTimeline t =
      timeline_from_json(nlohmann::json::parse(read_all(on + "/timeline.json")), "timeline.json");
  EXPECT_EQ(t.source, "measured");
  EXPECT_EQ(t.device, "cpu");
  EXPECT_EQ(t.step, 3);
  EXPECT_GT(t.duration_s, 0);
  for (int b = 0; b < 4; ++b) EXPECT_EQ(count_kind(t, SpanKind::Forward, b), 2) << "block " << b;
  EXPECT_EQ(count_kind(t, SpanKind::Recompute, 1), 2);
  for (SpanKind k : {SpanKind::Upload, SpanKind::Offload, SpanKind::Adam})
    EXPECT_GT(count_spans(t, [&](const TimelineSpan& s) { return s.kind == k; }), 0)
        << span_kind_name(k);

  // Tracing changes no bit of the losses.
  const std::vector<double> a = losses(on), b = losses(off);
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << "step " << i + 1;
}

TEST(TrainerTrace, ResumePastTheStepKeepsTheFileAndBeforeItWritesIt) {
  TempDir tmp;
  // Past: traced at step 2, stopped after 3, resumed: the file is the one step 2 wrote.
  const std::string past = tmp.file("past");
  train(offload_job(2), past, 3);
  const std::string first = read_all(past + "/timeline.json");
  ASSERT_FALSE(first.empty());
  train(offload_job(2), past, -1, true);
  EXPECT_EQ(read_all(past + "/timeline.json"), first);
  EXPECT_EQ(losses(past).size(), 4u);

  // Before: stopped after step 1, no timeline yet; the resumed run traces step 2.
  const std::string before = tmp.file("before");
  train(offload_job(2), before, 1);
  EXPECT_FALSE(fs::exists(before + "/timeline.json"));
  train(offload_job(2), before, -1, true);
  ASSERT_TRUE(fs::exists(before + "/timeline.json"));
  EXPECT_EQ(timeline_from_json(nlohmann::json::parse(read_all(before + "/timeline.json")),
                               "timeline.json")
                .step,
            2);
}

TEST(TrainerTrace, TraceStepPastTheRunIsRefused) {
  JobConfig c = offload_job(0);
  c.train.trace_step = c.train.steps + 1;
  try {
    validate(c);
    FAIL() << "train.trace_step past train.steps must be refused";
  } catch (const Error& e) {
    EXPECT_TRUE(testutil::has(e.what(), "train.trace_step = 5 is past train.steps = 4"))
        << e.what();
  }
}

}  // namespace
}  // namespace mart::trace_test
