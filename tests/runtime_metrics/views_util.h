// Helpers for the metrics-view tests: RUN/metrics.csv read back with an RFC 4180 parser written
// here, RUN/tensorboard/ read back through the TFRecord reader, each compared line by line with
// metrics.jsonl.
#pragma once
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/tensorboard_writer.h"
#include "runtime/run_metrics.h"
#include "tests/common/test_util.h"

namespace mart::views_test {

using Json = nlohmann::json;
using Rows = std::vector<std::vector<std::string>>;

// RFC 4180: CRLF between records, quoted fields may hold commas, CR, LF and doubled quotes.
inline Rows parse_csv(const std::string& text) {
  Rows rows;
  std::vector<std::string> row;
  std::string cell;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"')
        cell += text[++i];
      else if (c == '"')
        quoted = false;
      else
        cell += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(std::move(cell));
      cell.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      row.push_back(std::move(cell));
      cell.clear();
      rows.push_back(std::move(row));
      row.clear();
      ++i;
    } else {
      cell += c;
    }
  }
  EXPECT_TRUE(cell.empty() && row.empty()) << "the CSV does not end with CRLF";
  return rows;
}

inline std::vector<Json> jsonl_lines(const std::string& run) {
  std::vector<Json> out;
  for_each_metrics_line(run + "/metrics.jsonl", [&](const Json& j) { out.push_back(j); });
  return out;
}

// Every CSV row equals its metrics.jsonl line: each field in its column, as jsonl writes it.
inline void expect_csv_matches_jsonl(const std::string& run) {
  const Rows rows = parse_csv(testutil::read_all(run + "/metrics.csv"));
  const std::vector<Json> lines = jsonl_lines(run);
  ASSERT_EQ(rows.size(), lines.size() + 1);
  const std::vector<std::string>& head = rows[0];
  ASSERT_FALSE(head.empty());
  EXPECT_EQ(head[0], "step");
  for (size_t r = 0; r < lines.size(); ++r) {
    ASSERT_EQ(rows[r + 1].size(), head.size()) << "row " << r;
    size_t filled = 0;
    for (size_t c = 0; c < head.size(); ++c) {
      const auto it = lines[r].find(head[c]);
      if (it == lines[r].end()) {
        EXPECT_EQ(rows[r + 1][c], "") << head[c];
        continue;
      }
      ++filled;
      EXPECT_EQ(rows[r + 1][c], it->is_string() ? it->get<std::string>() : it->dump()) << head[c];
    }
    EXPECT_EQ(filled, lines[r].size()) << "a field of line " << r << " has no column";
  }
}

inline std::vector<TbEvent> tb_events(const std::string& run) {
  const std::string dir = run + "/tensorboard";
  const auto files = tb_event_files(dir);
  EXPECT_EQ(files.size(), 1u);
  std::vector<TbEvent> out;
  if (files.empty()) return out;
  for (const std::string& r : tfrecord_read_file(dir + "/" + files[0]))
    out.push_back(tb_decode_event(r, files[0]));
  return out;
}

// One event per line after the file_version one, at the line's step, one float32 scalar per
// numeric field but "step".
inline void expect_tb_matches_jsonl(const std::string& run) {
  const std::vector<TbEvent> ev = tb_events(run);
  const std::vector<Json> lines = jsonl_lines(run);
  ASSERT_EQ(ev.size(), lines.size() + 1);
  EXPECT_EQ(ev[0].file_version, "brain.Event:2");
  for (size_t i = 0; i < lines.size(); ++i) {
    const TbEvent& e = ev[i + 1];
    EXPECT_EQ(e.step, lines[i]["step"].get<int64_t>());
    size_t numeric = 0;
    for (const auto& [k, v] : lines[i].items()) numeric += k != "step" && v.is_number();
    ASSERT_EQ(e.scalars.size(), numeric) << "step " << e.step;
    for (const TbScalar& s : e.scalars)
      EXPECT_EQ(s.value, static_cast<float>(lines[i][s.tag].get<double>())) << s.tag;
  }
}

// The failures `f` reports, intercepted (they do not fail this test).
template <class F>
int failures_of(F&& f) {
  ::testing::TestPartResultArray results;
  {
    ::testing::ScopedFakeTestPartResultReporter r(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
    f();
  }
  return results.size();
}

}  // namespace mart::views_test
