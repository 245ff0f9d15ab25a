// The views MetricsLog (runtime/metrics_log.h) keeps of metrics.jsonl besides the record itself:
// a spreadsheet's CSV and TensorBoard's event files. Each is built, when made, from the lines
// metrics.jsonl holds at that moment (none for a fresh run, the kept ones after a resume's trim),
// then appended one line per step, so a view always holds exactly the lines of metrics.jsonl.
// Write failures throw mart::Error naming the view's file.
#pragma once
#include <memory>
#include <string>

#include "nlohmann/json_fwd.hpp"
#include "runtime/run_metrics.h"

namespace mart {

class MetricsView {
 public:
  virtual ~MetricsView() = default;
  // One metrics line (an object with an integer "step"), already appended to metrics.jsonl.
  virtual void append(const nlohmann::json& line) = 0;
  // What was appended is on disk.
  virtual void sync() = 0;
};

// RUN/metrics.csv (RFC 4180: comma-separated, CRLF line ends, a cell quoted when it holds a
// comma, quote, CR or LF, quotes doubled). Columns: the union of the fields of every line, "step"
// first, then the usual metrics in a fixed order (loss, val_loss, lr, ...), then any other field
// alphabetically; an empty cell where a line lacks a field. A line bringing a new field rewrites
// the file atomically from metrics.jsonl (which is why MetricsLog appends there first), so the
// header always names every column. `write_fn` replaces write(2) for the appends (tests).
std::unique_ptr<MetricsView> make_csv_view(const std::string& run_dir,
                                           const std::string& jsonl_path, WriteFn write_fn = {});

// RUN/tensorboard/events.out.tfevents.<unix seconds>.<host>.mart (io/tensorboard_writer.h): one
// event per line at the line's step with a scalar for every numeric field but "step" (tag = the
// field's name, value as float32). Made on a new file, written atomically with the lines
// metrics.jsonl holds; MART's older event files in RUN/tensorboard/ are removed.
std::unique_ptr<MetricsView> make_tensorboard_view(const std::string& run_dir,
                                                   const std::string& jsonl_path,
                                                   WriteFn write_fn = {});

// One CSV cell for a JSON value: a number as metrics.jsonl writes it, a string as its text, any
// other value as its JSON text, quoted per RFC 4180 when needed; null is an empty cell.
std::string csv_cell(const nlohmann::json& v);

}  // namespace mart
