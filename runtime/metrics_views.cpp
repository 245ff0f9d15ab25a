#include "runtime/metrics_views.h"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <vector>

#include "io/atomic_file.h"
#include "io/tensorboard_writer.h"

namespace mart {
namespace {

// The usual metrics first, in the order a reader looks for them; other fields follow
// alphabetically.
constexpr const char* kLeadingColumns[] = {
    "step",          "tokens",       "loss",   "val_loss",          "lr",
    "grad_norm",     "tokens_per_s", "step_s", "peak_device_bytes", "val_perplexity",
    "val_sequences", "val_tokens"};

int column_rank(const std::string& name) {
  const auto* b = std::begin(kLeadingColumns);
  const auto* e = std::end(kLeadingColumns);
  const auto* it = std::find(b, e, name);
  return it == e ? static_cast<int>(e - b) : static_cast<int>(it - b);
}

bool column_before(const std::string& a, const std::string& b) {
  const int ra = column_rank(a), rb = column_rank(b);
  return ra != rb ? ra < rb : a < b;
}

double now_unix() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

class CsvView : public MetricsView {
 public:
  CsvView(const std::string& run_dir, std::string jsonl_path, WriteFn write_fn)
      : path_(run_dir + "/metrics.csv"),
        jsonl_path_(std::move(jsonl_path)),
        write_fn_(std::move(write_fn)) {
    rebuild();
  }

  void append(const nlohmann::json& line) override {
    for (const auto& [key, value] : line.items())
      if (!std::binary_search(columns_.begin(), columns_.end(), key, column_before))
        return rebuild();  // metrics.jsonl already holds this line
    file_->append(row(line));
  }

  void sync() override { file_->sync(); }

 private:
  std::string row(const nlohmann::json& line) const {
    std::string out;
    for (size_t i = 0; i < columns_.size(); ++i) {
      if (i) out += ',';
      auto it = line.find(columns_[i]);
      if (it != line.end()) out += csv_cell(*it);
    }
    return out + "\r\n";
  }

  // The whole file from metrics.jsonl, columns recomputed; replaces the old one atomically.
  void rebuild() {
    file_.reset();
    std::vector<nlohmann::json> lines;
    for_each_metrics_line(jsonl_path_, [&](const nlohmann::json& l) { lines.push_back(l); });
    columns_.clear();
    for (const nlohmann::json& l : lines)
      for (const auto& [key, value] : l.items()) columns_.push_back(key);
    std::sort(columns_.begin(), columns_.end(), column_before);
    columns_.erase(std::unique(columns_.begin(), columns_.end()), columns_.end());
    std::string text;
    for (size_t i = 0; i < columns_.size(); ++i) {
      if (i) text += ',';
      text += csv_cell(columns_[i]);
    }
    if (!columns_.empty()) text += "\r\n";
    for (const nlohmann::json& l : lines) text += row(l);
    write_file_atomic(path_, text.data(), text.size());
    file_ = std::make_unique<AppendFile>(path_, write_fn_);
  }

  std::string path_, jsonl_path_;
  WriteFn write_fn_;
  std::vector<std::string> columns_;  // sorted by column_before
  std::unique_ptr<AppendFile> file_;
};

TbEvent event_of(const nlohmann::json& line, double wall_time) {
  TbEvent e;
  e.wall_time = wall_time;
  e.step = line.at("step").get<int64_t>();
  for (const auto& [key, value] : line.items())
    if (key != "step" && value.is_number())
      e.scalars.push_back({key, static_cast<float>(value.get<double>())});
  return e;
}

class TensorBoardView : public MetricsView {
 public:
  TensorBoardView(const std::string& run_dir, const std::string& jsonl_path, WriteFn write_fn)
      : writer_(run_dir + "/tensorboard", history(jsonl_path), std::move(write_fn)) {}

  void append(const nlohmann::json& line) override { writer_.write(event_of(line, now_unix())); }
  void sync() override { writer_.sync(); }

 private:
  // The kept lines' events; their original wall times are not recorded, so they carry now.
  static std::vector<TbEvent> history(const std::string& jsonl_path) {
    std::vector<TbEvent> out;
    const double t = now_unix();
    for_each_metrics_line(jsonl_path,
                          [&](const nlohmann::json& l) { out.push_back(event_of(l, t)); });
    return out;
  }

  TensorBoardWriter writer_;
};

}  // namespace

std::string csv_cell(const nlohmann::json& v) {
  if (v.is_null()) return "";
  const std::string text = v.is_string() ? v.get<std::string>() : v.dump();
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::unique_ptr<MetricsView> make_csv_view(const std::string& run_dir,
                                           const std::string& jsonl_path, WriteFn write_fn) {
  return std::make_unique<CsvView>(run_dir, jsonl_path, std::move(write_fn));
}

std::unique_ptr<MetricsView> make_tensorboard_view(const std::string& run_dir,
                                                   const std::string& jsonl_path,
                                                   WriteFn write_fn) {
  return std::make_unique<TensorBoardView>(run_dir, jsonl_path, std::move(write_fn));
}

}  // namespace mart
