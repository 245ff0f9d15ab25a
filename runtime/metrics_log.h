// RUN's per-step metrics, written to every log the run keeps. metrics.jsonl is the record: the
// summary, resume and `mart report` read it. Other formats (a spreadsheet's CSV, TensorBoard's
// event files) are views of the same lines, written as each step ends.
//
// Fresh run: every log starts empty. Resume: metrics.jsonl is cut back to the checkpoint's step
// (runtime/run_metrics.h trim_metrics; a torn last line is dropped), and each other log is made
// to hold exactly the lines metrics.jsonl keeps, so no view shows a step the resumed run redoes.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "nlohmann/json_fwd.hpp"
#include "runtime/run_metrics.h"

namespace mart {

class MetricsView;  // runtime/metrics_views.h

// The views kept besides metrics.jsonl (config keys train.tensorboard, train.metrics_csv). A view
// that is off is not touched: files an earlier run wrote for it stay as they were.
struct MetricsViews {
  bool tensorboard = false;  // RUN/tensorboard/events.out.tfevents.*.mart
  bool csv = false;          // RUN/metrics.csv
  WriteFn write_fn;          // replaces write(2) for the views' appends (tests); empty: ::write
};

class MetricsLog {
 public:
  // Opens RUN/metrics.jsonl for appending (see above); `resume_step` is the checkpoint's step.
  // `write_fn` replaces write(2) for metrics.jsonl (tests inject a full disk). The views in
  // `views` are then built from what metrics.jsonl holds (runtime/metrics_views.h).
  MetricsLog(const std::string& run_dir, bool resume, int resume_step, WriteFn write_fn = {},
             MetricsViews views = {});
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  // One step's line (an object with at least "step") to every log, metrics.jsonl first; throws
  // mart::Error naming the file when a write fails (a view that failed is rebuilt on resume).
  void append(const nlohmann::json& line);
  // What was appended is on disk (before a checkpoint claims the step).
  void sync();
  const std::string& jsonl_path() const { return jsonl_path_; }

 private:
  std::string jsonl_path_;
  std::unique_ptr<AppendFile> jsonl_;
  std::vector<std::unique_ptr<MetricsView>> views_;
};

}  // namespace mart
