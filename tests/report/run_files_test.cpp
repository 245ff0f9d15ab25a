// report/run_files.h: reading a run directory; every error names the file (and line) and none
// passes a raw JSON library message on.
#include "report/run_files.h"

#include <gtest/gtest.h>

#include "tests/report/report_test_util.h"

namespace mart {
namespace {

using reporttest::metrics_lines;
using reporttest::write_run;
using testutil::error_of;
using testutil::has;
using testutil::TempDir;
using testutil::write_all;

// A JSON library's own words must not reach a user.
void expect_no_raw_json_message(const std::string& msg) {
  EXPECT_FALSE(has(msg, "json.exception"));
  EXPECT_FALSE(has(msg, "parse_error"));
  EXPECT_FALSE(has(msg, "syntax error"));
}

TEST(RunFiles, ReadsMetricsSummaryConfigAndTimeline) {
  TempDir tmp;
  const std::string run = tmp.file("run1");
  write_run(run, metrics_lines(4, 2),
            R"({"entropy_rate_nats": 0.8, "plan": {"memory_mode": "resident"}})");
  write_all(run + "/config.yaml", "name: x\n");
  write_all(run + "/timeline.json", "{}");
  const RunData r = read_run_dir(run);
  EXPECT_EQ(r.name, "run1");
  ASSERT_EQ(r.metrics.size(), 4u);
  EXPECT_FALSE(r.skipped_torn_line);
  EXPECT_EQ(r.summary["entropy_rate_nats"], 0.8);
  EXPECT_EQ(r.config_text, "name: x\n");
  EXPECT_EQ(r.timeline_path, run + "/timeline.json");
  EXPECT_EQ(metric_series(r, "step", "val_loss").x, (std::vector<double>{2, 4}));
  EXPECT_EQ(metric_series(r, "step", "loss").y.size(), 4u);
}

TEST(RunFiles, OptionalFilesMayBeAbsent) {
  TempDir tmp;
  write_run(tmp.file("r"), metrics_lines(2));
  const RunData r = read_run_dir(tmp.file("r"));
  EXPECT_TRUE(r.summary.is_null());
  EXPECT_EQ(r.config_text, "");
  EXPECT_EQ(r.timeline_path, "");
}

TEST(RunFiles, MissingMetricsAsksWhetherItIsARunDirectory) {
  TempDir tmp;
  std::filesystem::create_directories(tmp.file("notarun"));
  const std::string msg = error_of([&] { read_run_dir(tmp.file("notarun")); });
  EXPECT_TRUE(has(msg, tmp.file("notarun") + ": no metrics.jsonl -- is this a `mart train` run "
                                             "directory?"));
  EXPECT_TRUE(has(error_of([&] { read_run_dir(tmp.file("absent")); }), "no such directory"));
}

TEST(RunFiles, TornLastLineIsSkipped) {
  TempDir tmp;
  write_run(tmp.file("r"), metrics_lines(3) + R"({"step":4,"loss":4.)");
  const RunData r = read_run_dir(tmp.file("r"));
  EXPECT_EQ(r.metrics.size(), 3u);
  EXPECT_TRUE(r.skipped_torn_line);
}

// Negative control of the rule above: a bad last line that ends with a newline was written whole,
// so it is damage, not a torn write.
TEST(RunFiles, BadCompleteLastLineIsAnError) {
  TempDir tmp;
  write_run(tmp.file("r"), metrics_lines(3) + "{\"step\":4,\"loss\":4.\n");
  const std::string msg = error_of([&] { read_run_dir(tmp.file("r")); });
  EXPECT_TRUE(has(msg, "metrics.jsonl line 4: not a metrics record"));
  expect_no_raw_json_message(msg);
}

TEST(RunFiles, BadLineInTheMiddleIsNamedWithItsLineNumber) {
  TempDir tmp;
  const std::string lines = metrics_lines(5);
  std::string bad = lines;
  const size_t second = bad.find('\n') + 1;
  bad.replace(second, bad.find('\n', second) - second, "{\"step\": oops}");
  write_run(tmp.file("r"), bad);
  const std::string msg = error_of([&] { read_run_dir(tmp.file("r")); });
  EXPECT_TRUE(has(msg, tmp.file("r") + "/metrics.jsonl line 2: not a metrics record"));
  expect_no_raw_json_message(msg);
  // A line that is JSON but no record (no numeric step) is refused the same way.
  write_run(tmp.file("s"), "{\"step\":1}\n[1,2]\n{\"step\":3}\n");
  EXPECT_TRUE(has(error_of([&] { read_run_dir(tmp.file("s")); }), "metrics.jsonl line 2"));
}

TEST(RunFiles, EmptyMetricsIsAnError) {
  TempDir tmp;
  write_run(tmp.file("r"), "");
  EXPECT_TRUE(has(error_of([&] { read_run_dir(tmp.file("r")); }), "no complete metrics line"));
}

TEST(RunFiles, DamagedSummaryIsNamedWithItsLine) {
  TempDir tmp;
  write_run(tmp.file("r"), metrics_lines(2), "{\n  \"a\": 1,\n  \"b\": ]\n}\n");
  const std::string msg = error_of([&] { read_run_dir(tmp.file("r")); });
  EXPECT_TRUE(has(msg, "summary.json line 3: not valid JSON"));
  expect_no_raw_json_message(msg);
}

TEST(RunFiles, RunNamesAreBasenamesMadeUnique) {
  EXPECT_EQ(run_names({"runs/a/x", "runs/b/x/", "x", "y"}),
            (std::vector<std::string>{"x", "x-2", "x-3", "y"}));
  EXPECT_NE(run_names({"."})[0], ".");
}

TEST(RunFiles, TokensSeriesUsesTokensOrDerivesThem) {
  RunData r;
  r.metrics = {{{"step", 1}, {"loss", 3.0}, {"tokens", 32}},
               {{"step", 2}, {"loss", 2.5}, {"tokens", 64}}};
  EXPECT_EQ(tokens_series(r, "loss").x, (std::vector<double>{32, 64}));
  // Runs written before metrics carried "tokens": tokens_per_s * step_s is the step's tokens.
  RunData old;
  old.metrics = {{{"step", 1}, {"loss", 3.0}, {"tokens_per_s", 64.0}, {"step_s", 0.5}},
                 {{"step", 2}, {"loss", 2.5}, {"tokens_per_s", 128.0}, {"step_s", 0.25}}};
  EXPECT_EQ(tokens_series(old, "loss").x, (std::vector<double>{32, 64}));
}

TEST(RunFiles, JsonNumberFollowsAPath) {
  const nlohmann::json j = {{"plan", {{"device_budget_bytes", 42}, {"mode", "x"}}}};
  EXPECT_EQ(json_number(j, {"plan", "device_budget_bytes"}), 42.0);
  EXPECT_FALSE(json_number(j, {"plan", "mode"}));
  EXPECT_FALSE(json_number(j, {"plan", "absent"}));
  EXPECT_FALSE(json_number(nlohmann::json(), {"plan"}));
}

}  // namespace
}  // namespace mart
