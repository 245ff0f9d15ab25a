// RUN/metrics.jsonl: checked appends, the resume-time trim, and the whole-run totals that
// summary.json reports (so a resumed run's summary covers every step, not just its own).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>

#include "nlohmann/json_fwd.hpp"

namespace mart {

// write(2)-style function; tests inject one that fails (disk full) without root.
using WriteFn = std::function<ssize_t(int fd, const void* data, size_t n)>;

// An append-only file whose every write is checked: a short write is retried, a failed one throws
// mart::Error naming the file and the OS error (e.g. "No space left on device").
class AppendFile {
 public:
  explicit AppendFile(std::string path, WriteFn write_fn = {});  // empty: ::write
  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;
  void append(const std::string& bytes);
  // fdatasync: what was appended is on disk (some filesystems report a full disk only here).
  void sync();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  WriteFn write_;
  int fd_ = -1;
};

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
