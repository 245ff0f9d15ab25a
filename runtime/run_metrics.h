// RUN/metrics.jsonl: checked appends, the resume-time trim, and the whole-run totals that
// summary.json reports (so a resumed run's summary covers every step, not just its own).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>

#include "io/append_file.h"
#include "nlohmann/json_fwd.hpp"

namespace mart {

// Keeps the complete lines of `path` with step <= `step` (a resumed run rewrites what came after;
// a torn last line from a crash or a full disk is dropped). Returns the last step kept (0: none).
int trim_metrics(const std::string& path, int step);

// Calls f on every complete line of metrics.jsonl in order (an object with an integer "step"),
// stopping at a torn or unparseable one; nothing when the file does not exist.
void for_each_metrics_line(const std::string& path,
                           const std::function<void(const nlohmann::json& line)>& f);

// Totals over every complete line of metrics.jsonl.
struct MetricsTotals {
  int lines = 0;
  double final_loss = 0, best_loss = 0;
  double final_val_loss = 0;  // 0 when no line has val_loss
  double median_step_s = 0;   // the first line excluded when there are more
  uint64_t peak_device_bytes = 0;
};
MetricsTotals metrics_totals(const std::string& path);

}  // namespace mart
