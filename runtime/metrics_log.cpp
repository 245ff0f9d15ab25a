#include "runtime/metrics_log.h"

#include <cstdio>
#include <filesystem>

#include "common/error.h"
#include "io/atomic_file.h"
#include "nlohmann/json.hpp"
#include "runtime/metrics_views.h"

namespace mart {

namespace fs = std::filesystem;

MetricsLog::MetricsLog(const std::string& run_dir, bool resume, int resume_step, WriteFn write_fn,
                       MetricsViews views)
    : jsonl_path_(run_dir + "/metrics.jsonl") {
  if (resume) {
    const bool had = fs::exists(jsonl_path_);  // a run saved by the C API has none
    const int last = trim_metrics(jsonl_path_, resume_step);
    if (had && last < resume_step)
      std::fprintf(stderr,
                   "mart: warning: %s ends at step %d but the checkpoint is at step %d: steps "
                   "%d..%d have no metrics line (a write failed or the file was damaged)\n",
                   jsonl_path_.c_str(), last, resume_step, last + 1, resume_step);
  } else {
    write_file_atomic(jsonl_path_, "", 0);
  }
  jsonl_ = std::make_unique<AppendFile>(jsonl_path_, std::move(write_fn));
  if (views.csv) views_.push_back(make_csv_view(run_dir, jsonl_path_, views.write_fn));
  if (views.tensorboard)
    views_.push_back(make_tensorboard_view(run_dir, jsonl_path_, views.write_fn));
}

MetricsLog::~MetricsLog() = default;

void MetricsLog::append(const nlohmann::json& line) {
  jsonl_->append(line.dump() + "\n");
  for (auto& v : views_) v->append(line);
}

void MetricsLog::sync() {
  jsonl_->sync();
  for (auto& v : views_) v->sync();
}

}  // namespace mart
