// One `mart train` run directory read for a report: every complete metrics line, the summary, the
// config text and where the measured timeline is. Reading never changes the directory, so a report
// can be made while the run is still training.
//
//   RUN/metrics.jsonl   required: one JSON object per line with a numeric "step"; a torn last
//                       line (a run killed mid-write, or one still writing) is skipped, as resume
//                       skips it; a bad line anywhere else is an error naming the file and line
//   RUN/summary.json    optional (written when a run ends): null when absent
//   RUN/config.yaml     optional: its text, "" when absent
//   RUN/timeline.json   optional: its path when present (the timeline section draws it)
// Every error is a mart::Error naming the file (and line) and what to do; never a raw JSON message.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nlohmann/json.hpp"

namespace mart {

struct RunData {
  std::string dir;                      // as given
  std::string name;                     // the directory's basename (run_names makes it unique)
  std::vector<nlohmann::json> metrics;  // the complete lines, in file order
  bool skipped_torn_line = false;       // the last line was incomplete and left out
  nlohmann::json summary;               // summary.json, or null
  std::string config_text;              // config.yaml, or ""
  std::string timeline_path;            // RUN/timeline.json when it exists, else ""
};

// Reads `dir` as described above; throws mart::Error.
RunData read_run_dir(const std::string& dir);

// The basenames of `dirs` ("runs/a/" -> "a"), made unique by appending "-2", "-3", ... in order.
std::vector<std::string> run_names(const std::vector<std::string>& dirs);

// One metric against another over the lines that hold both as numbers (lines without either are
// left out: val_loss exists only on evaluation steps). x and y have equal length.
struct MetricSeries {
  std::vector<double> x, y;
};
MetricSeries metric_series(const RunData& run, std::string_view x_key, std::string_view y_key);

// Tokens seen at each line that has `y_key`: the line's "tokens" when it has one; otherwise (runs
// written before metrics carried it) the running sum of tokens_per_s * step_s, which is exactly
// the step's tokens.
MetricSeries tokens_series(const RunData& run, std::string_view y_key);

// A number at a JSON path ("plan", "device_budget_bytes"); nullopt when any key is missing or the
// value is not a number.
std::optional<double> json_number(const nlohmann::json& j, std::initializer_list<const char*> path);

}  // namespace mart
