// Resume rules: a finished run is not resumed by accident, a changed train.steps (another cosine
// schedule) needs --extend, and summary.json always covers the whole run.
#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/runtime_run/run_util.h"

namespace mart::run_test {
namespace {

nlohmann::json summary_of(const std::string& run) {
  return nlohmann::json::parse(read_all(run + "/summary.json"));
}

// Before the fix `--resume` on a finished run trained nothing and wrote a summary of zeros.
TEST(ResumeRules, FinishedRunIsRefusedAndItsSummaryKept) {
  TempDir tmp;
  const std::string run = tmp.file("run");
  train(tiny_job(4), options(run));
  const std::string summary = read_all(run + "/summary.json");
  TrainOptions r = options(run);
  r.resume = true;
  const std::string msg = error_of([&] { train(tiny_job(4), r); });
  EXPECT_TRUE(has(msg, "the run is finished"));
  EXPECT_TRUE(has(msg, "--extend --set train.steps=N"));
  EXPECT_EQ(read_all(run + "/summary.json"), summary);
}

// A run killed after its final checkpoint but before summary.json: the resume must not be refused
// as finished (before, the run could never get a summary); it trains nothing and writes one whose
// figures come from metrics.jsonl.
TEST(ResumeRules, FinishedRunWithoutSummaryGetsOne) {
  TempDir tmp;
  const std::string run = tmp.file("run");
  train(tiny_job(4), options(run));
  const nlohmann::json before = nlohmann::json::parse(read_all(run + "/summary.json"));
  std::filesystem::remove(run + "/summary.json");
  TrainOptions r = options(run);
  r.resume = true;
  const TrainSummary s = train(tiny_job(4), r);
  EXPECT_EQ(s.steps_this_run, 0);
  ASSERT_TRUE(std::filesystem::exists(run + "/summary.json"));
  const nlohmann::json after = nlohmann::json::parse(read_all(run + "/summary.json"));
  EXPECT_EQ(after.at("steps"), before.at("steps"));
  EXPECT_EQ(after.at("final_loss"), before.at("final_loss"));
  EXPECT_EQ(after.at("best_loss"), before.at("best_loss"));
  // With the summary back, the run is finished again.
  EXPECT_TRUE(has(error_of([&] { train(tiny_job(4), r); }), "the run is finished"));
}

// Before the fix `--resume --set train.steps=N` silently trained on another schedule.
TEST(ResumeRules, ChangedStepsNeedsExtend) {
  TempDir tmp;
  const std::string run = tmp.file("run");
  TrainOptions o = options(run);
  o.stop_after = 3;
  train(tiny_job(6), o);
  TrainOptions r = options(run);
  r.resume = true;
  EXPECT_TRUE(has(error_of([&] { train(tiny_job(9), r); }), "changes its cosine"));
  EXPECT_EQ(losses_of(run).size(), 3u);  // nothing trained
  r.extend = true;
  EXPECT_EQ(train(tiny_job(9), r).steps_done, 9);
  // And extending a finished run: explicit, and only upwards.
  EXPECT_TRUE(has(error_of([&] { train(tiny_job(9), r); }), "does not go beyond"));
  EXPECT_EQ(train(tiny_job(11), r).steps_done, 11);
  EXPECT_EQ(losses_of(run).size(), 11u);
}

// Before the fix the summary of a resumed run covered only its own steps (best_loss the minimum of
// those, median over them), and an invocation with no step wrote zeros.
TEST(ResumeRules, SummaryCoversTheWholeRunAndZeroStepsLeaveIt) {
  TempDir tmp;
  const std::string run = tmp.file("run"), ref = tmp.file("ref");
  train(tiny_job(10), options(ref));
  TrainOptions o = options(run);
  o.stop_after = 6;
  train(tiny_job(10), o);
  TrainOptions r = options(run);
  r.resume = true;
  r.stop_after = 0;  // an invocation that trains nothing
  const std::string before = read_all(run + "/summary.json");
  EXPECT_EQ(train(tiny_job(10), r).steps_this_run, 0);
  EXPECT_EQ(read_all(run + "/summary.json"), before);
  r.stop_after = -1;
  const TrainSummary s = train(tiny_job(10), r);

  const std::vector<double> all = losses_of(run);
  ASSERT_EQ(all.size(), 10u);
  const double best = *std::min_element(all.begin(), all.end());
  const nlohmann::json js = summary_of(run), jr = summary_of(ref);
  EXPECT_EQ(js["steps"].get<int>(), 10);
  EXPECT_EQ(js["final_loss"].get<double>(), all.back());
  EXPECT_EQ(js["best_loss"].get<double>(), best);
  EXPECT_EQ(s.best_loss, best);
  // The same totals as the run that was never interrupted (timings aside).
  EXPECT_EQ(js["final_loss"].get<double>(), jr["final_loss"].get<double>());
  EXPECT_EQ(js["best_loss"].get<double>(), jr["best_loss"].get<double>());
  EXPECT_EQ(js["tokens_seen"], jr["tokens_seen"]);
}

// The best loss comes from every line, not just the resumed invocation's: a planted minimum in
// line 1 (before the interruption) must be the summary's best_loss.
TEST(ResumeRules, BestLossSeesLinesBeforeTheResume) {
  TempDir tmp;
  const std::string run = tmp.file("run");
  TrainOptions o = options(run);
  o.stop_after = 3;
  train(tiny_job(6), o);
  std::string metrics = read_all(run + "/metrics.jsonl");
  nlohmann::json first = nlohmann::json::parse(metrics.substr(0, metrics.find('\n')));
  first["loss"] = 0.015625;
  write_all(run + "/metrics.jsonl", first.dump() + metrics.substr(metrics.find('\n')));
  TrainOptions r = options(run);
  r.resume = true;
  EXPECT_EQ(train(tiny_job(6), r).best_loss, 0.015625);
  EXPECT_EQ(summary_of(run)["best_loss"].get<double>(), 0.015625);
}

}  // namespace
}  // namespace mart::run_test
