// report/run_report.h: the page's sections, overlay of several runs (one series per run in every
// chart, N points for N steps), the reference lines, the timeline merge point.
#include "report/run_report.h"

#include <gtest/gtest.h>

#include <fstream>

#include "common/error.h"
#include "common/step_timeline.h"
#include "nlohmann/json.hpp"

#include "tests/report/report_test_util.h"

namespace mart {
namespace {

using reporttest::metrics_lines;
using reporttest::named;
using reporttest::series_groups;
using reporttest::write_run;
using testutil::has;
using testutil::TempDir;

constexpr const char* kSummary = R"json({
  "params": 1000, "backend": "cpu", "device": "cpu", "entropy_rate_nats": 0.8009,
  "median_step_s": 0.5, "tokens_per_s": 64,
  "plan": {"memory_mode": "resident", "model_states": "resident (all model states on the device)",
           "block_modes": ["swap", "checkpoint", "keep"], "micro_batch": 2, "grad_accum": 1,
           "device_budget_bytes": 1048576, "pinned_host_bytes": 0, "device_budget": "x",
           "device_regions": {"model_states": 524288, "activations": 262144, "scratch": 262144}}
})json";

// Two runs with the same basename (overlay), 6 and 9 steps, evaluated every 3 steps.
std::vector<RunData> two_runs(const TempDir& tmp) {
  write_run(tmp.file("a/run"), metrics_lines(6, 3, 1e-3), kSummary);
  write_run(tmp.file("b/run"), metrics_lines(9, 3, 3e-3), kSummary);
  const std::vector<std::string> dirs = {tmp.file("a/run"), tmp.file("b/run")};
  const std::vector<std::string> names = run_names(dirs);
  std::vector<RunData> runs;
  for (size_t i = 0; i < dirs.size(); ++i) {
    runs.push_back(read_run_dir(dirs[i]));
    runs.back().name = names[i];
  }
  return runs;
}

TEST(RunReport, EverySectionIsThere) {
  TempDir tmp;
  const std::string html = build_run_report(two_runs(tmp), {}).str();
  for (const std::string& id : run_report_section_ids()) {
    if (id == "timeline") continue;  // only with a timeline.json (next test)
    EXPECT_TRUE(has(html, "<section id=\"" + id + "\">")) << id;
  }
  EXPECT_FALSE(has(html, "<section id=\"timeline\">"));
  EXPECT_FALSE(has(html, "href=\"#timeline\""));
}

TEST(RunReport, OverlayHasOneSeriesPerRunWithOnePointPerStep) {
  TempDir tmp;
  const auto groups = series_groups(build_run_report(two_runs(tmp), {}).str());
  for (const char* metric :
       {"loss", "lr", "grad_norm", "tokens_per_s", "step_s", "peak_device_bytes", "val_loss"}) {
    const auto g = named(groups, metric);
    const bool twice = std::string(metric) == "loss";  // loss by step and by tokens
    ASSERT_EQ(g.size(), twice ? 4u : 2u) << metric;
    const bool val = std::string(metric) == "val_loss";
    for (const auto& s : g) {
      EXPECT_EQ(s.polylines, 1) << metric;
      EXPECT_EQ(s.points, s.run == "run" ? (val ? 2 : 6) : (val ? 3 : 9)) << metric << s.run;
    }
    EXPECT_EQ(g[0].run, "run");
    EXPECT_EQ(g[1].run, "run-2");
  }
}

TEST(RunReport, LossChartsCarryTheEntropyRateOrTheBaseline) {
  TempDir tmp;
  const auto runs = two_runs(tmp);
  std::string html = build_run_report(runs, {}).str();
  EXPECT_TRUE(has(html, "corpus entropy rate 0.8009 (best achievable)"));
  EXPECT_TRUE(has(html, "data-name=\"planned run 1.00 MiB\""));  // the device budget reference
  RunReportOptions opt;
  opt.baseline = 1.25;
  html = build_run_report(runs, opt).str();
  EXPECT_TRUE(has(html, "data-name=\"baseline 1.2500\""));
  EXPECT_FALSE(has(html, "corpus entropy rate"));
}

TEST(RunReport, PlanBlockModesRegionsAndPredictions) {
  TempDir tmp;
  const std::string html = build_run_report(two_runs(tmp), {}).str();
  EXPECT_TRUE(has(html, "block 0: swap"));
  EXPECT_TRUE(has(html, "block 1: checkpoint"));
  EXPECT_TRUE(
      has(html, "<g class=\"bar-segment\" data-name=\"model_states\" data-bytes=\"524288\">"));
  EXPECT_FALSE(has(html, "data-name=\"head\""));  // a region of 0 bytes draws nothing
  EXPECT_TRUE(has(html, "the job config (memory.mode resident)"));
  EXPECT_TRUE(
      has(html, "<td>peak device memory</td><td>1.00 MiB</td><td>1.00 MiB</td><td>exact</td>"));
}

TEST(RunReport, TimelineSectionOnlyWithATimelineFile) {
  TempDir tmp;
  auto runs = two_runs(tmp);
  StepTimeline t;
  t.device = "cpu";
  t.step = 2;
  t.duration_s = 0.5;
  t.spans.push_back({TimelineLane::Compute, SpanKind::Forward, 0.0, 0.2, 0, -1, 0, "forward 0"});
  t.spans.push_back({TimelineLane::H2D, SpanKind::Upload, 0.05, 0.1, -1, 1, 4096, "upload 1"});
  runs[1].timeline_path = tmp.file("b/run/timeline.json");
  {
    std::ofstream f(runs[1].timeline_path);
    f << timeline_to_json(t).dump();
  }
  const std::string html = build_run_report(runs, {}).str();
  EXPECT_TRUE(has(html, "<section id=\"timeline\">"));
  EXPECT_TRUE(has(html, "href=\"#timeline\""));
  EXPECT_TRUE(has(html, "<g class=\"lane\" data-name=\"compute\""));
  EXPECT_TRUE(has(html, "<g class=\"lane\" data-name=\"h2d\""));
  EXPECT_FALSE(has(html, "<g class=\"lane\" data-name=\"d2h\""));  // no span there

  // A damaged timeline.json is an error naming the file, not the JSON library's message.
  {
    std::ofstream f(runs[1].timeline_path);
    f << "{\"format\": \"mart-timeline-1\", \"spa";
  }
  try {
    build_run_report(runs, {});
    FAIL() << "a damaged timeline.json was accepted";
  } catch (const Error& e) {
    EXPECT_TRUE(has(e.what(), "timeline.json is not valid JSON")) << e.what();
  }
}

TEST(RunReport, RunWithoutSummaryStillReports) {
  TempDir tmp;
  write_run(tmp.file("live"), metrics_lines(4));
  std::vector<RunData> runs = {read_run_dir(tmp.file("live"))};
  const std::string html = build_run_report(runs, {}).str();
  EXPECT_TRUE(has(html, "no summary.json"));
  EXPECT_EQ(named(series_groups(html), "lr").at(0).points, 4);
  EXPECT_TRUE(has(html, "no evaluation ran"));
  EXPECT_THROW(build_run_report({}, {}), Error);
}

}  // namespace
}  // namespace mart

namespace mart {
namespace {

// memory.mode auto: summary.json carries the planner's object; the plan table says who chose the
// plan and why, and the predictions table compares the planner's step time with the measured one.
TEST(RunReport, AutoPlanShowsThePlannersReasonAndPredictions) {
  TempDir tmp;
  auto runs = two_runs(tmp);
  EXPECT_FALSE(has(build_run_report(runs, {}).str(), "planner: binding resource"));
  runs[1].summary["plan"]["memory_mode"] = "manual";
  runs[1].summary["planner"] = {
      {"binding_resource", "compute"},
      {"why", "compute is busy 100% of the step"},
      {"why_chosen", "the fastest plan found"},
      {"profile", {{"source", "measured"}}},
      {"predicted", {{"iteration_s", 0.4}, {"tokens_per_s", 80.0}, {"pinned_host_bytes", 0}}}};
  const std::string html = build_run_report(runs, {}).str();
  EXPECT_TRUE(has(html, "<td>the planner (memory.mode auto): profile, then search</td>"));
  EXPECT_TRUE(has(html, "<td>auto (planned as manual)</td>"));
  EXPECT_TRUE(has(html, "<td>planner: binding resource</td><td>-</td><td>compute</td>"));
  EXPECT_TRUE(has(html, "<td>the fastest plan found</td>"));
  // median_step_s 0.5 measured against 0.4 predicted: +25%.
  EXPECT_TRUE(has(html, "<td>step time (median)</td><td>0.4 s</td><td>0.5 s</td><td>+25.0%</td>"));
  EXPECT_TRUE(has(html, "<td>tokens/s</td><td>80</td><td>64</td><td>-20.0%</td>"));
}

}  // namespace
}  // namespace mart
