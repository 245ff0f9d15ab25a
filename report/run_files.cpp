#include "report/run_files.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/error.h"

namespace fs = std::filesystem;

namespace mart {
namespace {

// The whole file, or nullopt when it does not exist; an unreadable file is an error.
std::optional<std::string> read_optional(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  MART_CHECK(in.good(), path, ": cannot be read (", std::strerror(errno),
             "); check its permissions");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The 1-based line of byte offset `pos` in `text`.
size_t line_of(const std::string& text, size_t pos) {
  size_t line = 1;
  for (size_t i = 0; i < pos && i < text.size(); ++i) line += text[i] == '\n';
  return line;
}

// One metrics line: an object with a numeric "step"; nullopt when it is not one.
std::optional<nlohmann::json> parse_metrics_line(const std::string& line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("step") || !j["step"].is_number())
    return std::nullopt;
  return j;
}

void read_metrics(const std::string& path, const std::string& text, RunData& run) {
  std::vector<std::string> lines;
  std::string cur;
  std::istringstream in(text);
  while (std::getline(in, cur)) lines.push_back(cur);
  const bool ends_with_newline = !text.empty() && text.back() == '\n';
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find_first_not_of(" \t\r") == std::string::npos) continue;
    std::optional<nlohmann::json> j = parse_metrics_line(lines[i]);
    if (j) {
      run.metrics.push_back(std::move(*j));
      continue;
    }
    // The last line, cut off mid-write: skipped (runtime/run_metrics.h trim_metrics drops it too).
    const bool last = i + 1 == lines.size();
    if (last && !ends_with_newline) {
      run.skipped_torn_line = true;
      continue;
    }
    MART_FAIL(path, " line ", i + 1, ": not a metrics record (a JSON object with a numeric ",
              "\"step\"); the file is damaged: restore it, or cut it back to the lines before ",
              "this one");
  }
  MART_CHECK(!run.metrics.empty(), path, ": holds no complete metrics line yet; a run writes one ",
             "per step, so report it after its first step");
}

nlohmann::json read_summary(const std::string& path, const std::string& text) {
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    MART_CHECK(j.is_object(), path, ": not a JSON object; it is damaged: delete it (the report ",
               "then uses metrics.jsonl alone) or rerun `mart train --resume` to rewrite it");
    return j;
  } catch (const nlohmann::json::parse_error& e) {
    MART_FAIL(path, " line ", line_of(text, e.byte > 0 ? e.byte - 1 : 0),
              ": not valid JSON; the file is damaged: delete it (the report then uses ",
              "metrics.jsonl alone) or rerun `mart train --resume` to rewrite it");
  }
}

}  // namespace

RunData read_run_dir(const std::string& dir) {
  std::error_code ec;
  MART_CHECK(fs::is_directory(dir, ec), dir, ": no such directory; pass a run directory that ",
             "`mart train` wrote (it holds metrics.jsonl)");
  RunData run;
  run.dir = dir;
  run.name = run_names({dir})[0];
  const std::string metrics_path = (fs::path(dir) / "metrics.jsonl").string();
  const std::optional<std::string> metrics = read_optional(metrics_path);
  MART_CHECK(metrics.has_value(), dir,
             ": no metrics.jsonl -- is this a `mart train` run directory?");
  read_metrics(metrics_path, *metrics, run);
  const std::string summary_path = (fs::path(dir) / "summary.json").string();
  if (std::optional<std::string> s = read_optional(summary_path))
    run.summary = read_summary(summary_path, *s);
  if (std::optional<std::string> c = read_optional((fs::path(dir) / "config.yaml").string()))
    run.config_text = std::move(*c);
  const fs::path timeline = fs::path(dir) / "timeline.json";
  if (fs::exists(timeline, ec)) run.timeline_path = timeline.string();
  return run;
}

std::vector<std::string> run_names(const std::vector<std::string>& dirs) {
  std::vector<std::string> out;
  std::set<std::string> taken;
  for (const std::string& d : dirs) {
    fs::path p = fs::path(d).lexically_normal();
    if (p.filename().empty()) p = p.parent_path();  // "runs/a/" -> "runs/a"
    std::string base = p.filename().string();
    if (base.empty() || base == "." || base == "..")
      base = fs::absolute(p).lexically_normal().filename().string();
    if (base.empty()) base = "run";
    std::string name = base;
    for (int i = 2; taken.count(name); ++i) name = base + "-" + std::to_string(i);
    taken.insert(name);
    out.push_back(name);
  }
  return out;
}

std::optional<double> json_number(const nlohmann::json& j,
                                  std::initializer_list<const char*> path) {
  const nlohmann::json* cur = &j;
  for (const char* key : path) {
    if (!cur->is_object() || !cur->contains(key)) return std::nullopt;
    cur = &(*cur)[key];
  }
  if (!cur->is_number()) return std::nullopt;
  const double v = cur->get<double>();
  return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
}

MetricSeries metric_series(const RunData& run, std::string_view x_key, std::string_view y_key) {
  MetricSeries s;
  const std::string xk(x_key), yk(y_key);
  for (const nlohmann::json& m : run.metrics) {
    const std::optional<double> x = json_number(m, {xk.c_str()});
    const std::optional<double> y = json_number(m, {yk.c_str()});
    if (!x || !y) continue;
    s.x.push_back(*x);
    s.y.push_back(*y);
  }
  return s;
}

MetricSeries tokens_series(const RunData& run, std::string_view y_key) {
  MetricSeries s;
  const std::string yk(y_key);
  double derived = 0;  // running sum for lines without "tokens"
  for (const nlohmann::json& m : run.metrics) {
    const std::optional<double> rate = json_number(m, {"tokens_per_s"});
    const std::optional<double> secs = json_number(m, {"step_s"});
    if (rate && secs) derived += std::round(*rate * *secs);
    const std::optional<double> tokens = json_number(m, {"tokens"});
    const std::optional<double> y = json_number(m, {yk.c_str()});
    if (!y || (!tokens && !(rate && secs))) continue;
    s.x.push_back(tokens ? *tokens : derived);
    s.y.push_back(*y);
  }
  return s;
}

}  // namespace mart
