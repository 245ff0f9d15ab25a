// The views MetricsLog keeps of metrics.jsonl (runtime/metrics_views.h): RUN/metrics.csv read
// back with an RFC 4180 parser written here and RUN/tensorboard/ read back through the TFRecord
// reader, both compared line by line with metrics.jsonl: fresh, after a new field appears, and
// after a resume that trims metrics.jsonl (the views must drop the trimmed steps too).
#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "io/tensorboard_writer.h"
#include "runtime/metrics_log.h"
#include "runtime/metrics_views.h"
#include "tests/common/test_util.h"
#include "tests/runtime_metrics/views_util.h"

namespace mart {
namespace {

using testutil::error_of;
using testutil::has;
using testutil::read_all;
using testutil::TempDir;
using namespace views_test;

Json line(int step, double loss) {
  return {{"step", step}, {"loss", loss}, {"lr", 1e-3 * step}, {"note", "a,b"}};
}

const MetricsViews kBoth{true, true, {}};

TEST(MetricsCsv, CellsAreQuotedPerRfc4180) {
  EXPECT_EQ(csv_cell(Json(3)), "3");
  EXPECT_EQ(csv_cell(Json(0.1)), "0.1");
  EXPECT_EQ(csv_cell(Json(2.0)), "2.0");  // as metrics.jsonl writes it
  EXPECT_EQ(csv_cell(Json("plain")), "plain");
  EXPECT_EQ(csv_cell(Json("a,b")), "\"a,b\"");
  EXPECT_EQ(csv_cell(Json("say \"hi\"")), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_cell(Json("two\nlines")), "\"two\nlines\"");
  EXPECT_EQ(csv_cell(Json("cr\r")), "\"cr\r\"");
  EXPECT_EQ(csv_cell(Json(nullptr)), "");
  EXPECT_EQ(csv_cell(Json(true)), "true");
  EXPECT_EQ(csv_cell(Json{{"a", 1}, {"b", 2}}), "\"{\"\"a\"\":1,\"\"b\"\":2}\"");
  // The parser above reads them back (and would fail a cell left unquoted).
  const Rows r = parse_csv(csv_cell(Json("a,\"b\"\r\nc")) + "," + csv_cell(Json(1)) + "\r\n");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0], (std::vector<std::string>{"a,\"b\"\r\nc", "1"}));
  EXPECT_EQ(parse_csv("a,b\r\n")[0].size(), 2u);  // negative control: an unquoted comma splits
}

TEST(MetricsViews, CsvAndTensorBoardHoldEveryLineWithNewFieldsAddingColumns) {
  TempDir tmp;
  const std::string run = tmp.file("run");
  std::filesystem::create_directories(run);
  {
    MetricsLog log(run, false, 0, {}, kBoth);
    for (int s = 1; s <= 4; ++s) {
      Json l = line(s, 4.0 / s);
      if (s % 2 == 0) l["val_loss"] = 5.0 / s;  // a new column at step 2
      if (s == 3) l["zeta"] = "x\"y";
      log.append(l);
    }
    log.sync();
  }
  const Rows rows = parse_csv(read_all(run + "/metrics.csv"));
  EXPECT_EQ(rows[0], (std::vector<std::string>{"step", "loss", "val_loss", "lr", "note", "zeta"}));
  EXPECT_EQ(rows[1][2], "");  // step 1 has no val_loss
  EXPECT_EQ(rows[3][5], "x\"y");
  expect_csv_matches_jsonl(run);
  expect_tb_matches_jsonl(run);
}

TEST(MetricsViews, ResumeRebuildsBothViewsFromTheTrimmedLines) {
  TempDir tmp;
  const std::string run = tmp.file("run");
  std::filesystem::create_directories(run);
  {
    MetricsLog log(run, false, 0, {}, kBoth);
    for (int s = 1; s <= 6; ++s) log.append(line(s, 10.0 + s));
  }
  // Another MART event file left by an earlier resume: stale too.
  testutil::write_all(run + "/tensorboard/events.out.tfevents.1.oldhost.mart", "stale");
  {
    MetricsLog log(run, true, 3, {}, kBoth);  // the checkpoint is at step 3
    EXPECT_EQ(jsonl_lines(run).size(), 3u);
    expect_csv_matches_jsonl(run);
    expect_tb_matches_jsonl(run);
    log.append(line(4, 99.0));  // the redone step 4, with a different loss
    log.sync();
  }
  const auto files = tb_event_files(run + "/tensorboard");
  ASSERT_EQ(files.size(), 1u);  // one new file; the older ones are gone
  EXPECT_FALSE(std::filesystem::exists(run + "/tensorboard/events.out.tfevents.1.oldhost.mart"));
  expect_csv_matches_jsonl(run);
  expect_tb_matches_jsonl(run);
  const std::vector<TbEvent> ev = tb_events(run);
  ASSERT_EQ(ev.size(), 5u);
  EXPECT_EQ(ev.back().step, 4);
  EXPECT_EQ(ev.back().scalars.at(0).tag, "loss");
  EXPECT_EQ(ev.back().scalars.at(0).value, 99.0f);
  EXPECT_EQ(parse_csv(read_all(run + "/metrics.csv")).back()[1], "99.0");
}

// Negative control for the comparisons above: a view that missed the trim is caught.
TEST(MetricsViews, ComparisonCatchesAStaleView) {
  TempDir tmp;
  const std::string run = tmp.file("run");
  std::filesystem::create_directories(run);
  {
    MetricsLog log(run, false, 0, {}, kBoth);
    for (int s = 1; s <= 3; ++s) log.append(line(s, 1.0));
  }
  trim_metrics(run + "/metrics.jsonl", 2);  // behind the views' back
  EXPECT_GT(failures_of([&] { expect_csv_matches_jsonl(run); }), 0);
  EXPECT_GT(failures_of([&] { expect_tb_matches_jsonl(run); }), 0);
}

TEST(MetricsViews, OffViewsWriteNothing) {
  TempDir tmp;
  const std::string run = tmp.file("run");
  std::filesystem::create_directories(run);
  MetricsLog log(run, false, 0, {}, {});
  log.append(line(1, 1.0));
  EXPECT_FALSE(std::filesystem::exists(run + "/metrics.csv"));
  EXPECT_FALSE(std::filesystem::exists(run + "/tensorboard"));
}

TEST(MetricsViews, AViewWriteFailureNamesItsFile) {
  TempDir tmp;
  const std::string run = tmp.file("run");
  std::filesystem::create_directories(run);
  auto full = [](int, const void*, size_t) -> ssize_t {
    errno = ENOSPC;
    return -1;
  };
  {
    MetricsLog log(run, false, 0, {}, {false, true, full});
    log.append(line(1, 1.0));  // the first line rewrites the CSV (new columns): atomic, no append
    const std::string msg = error_of([&] { log.append(line(2, 1.0)); });
    EXPECT_TRUE(has(msg, "cannot write '" + run + "/metrics.csv'"));
    EXPECT_TRUE(has(msg, "No space left on device"));
  }
  MetricsLog log(run, false, 0, {}, {true, false, full});
  const std::string msg = error_of([&] { log.append(line(1, 1.0)); });
  EXPECT_TRUE(has(msg, "cannot write '" + run + "/tensorboard/events.out.tfevents."));
}

}  // namespace
}  // namespace mart
