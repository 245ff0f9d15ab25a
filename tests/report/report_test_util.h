// Helpers for the report tests: a run directory written by hand, and the series groups of an SVG
// or page counted the way tests/browser/check_html.py counts them.
#pragma once
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "tests/common/test_util.h"

namespace mart::reporttest {

// One <g class="series"> group: its attributes and its polylines' point counts.
struct SeriesGroup {
  std::string name, run;
  int polylines = 0, points = 0, markers = 0;
};

inline std::string attr(const std::string& tag, const std::string& key) {
  const std::regex re(key + "=\"([^\"]*)\"");
  std::smatch m;
  return std::regex_search(tag, m, re) ? m[1].str() : "";
}

// Series groups never nest another <g>, so each runs to the next </g>.
inline std::vector<SeriesGroup> series_groups(const std::string& html) {
  std::vector<SeriesGroup> out;
  for (size_t at = html.find("<g class=\"series\""); at != std::string::npos;
       at = html.find("<g class=\"series\"", at + 1)) {
    const size_t tag_end = html.find('>', at), end = html.find("</g>", at);
    const std::string tag = html.substr(at, tag_end - at), body = html.substr(at, end - at);
    SeriesGroup g{attr(tag, "data-name"), attr(tag, "data-run")};
    for (size_t p = body.find("<polyline"); p != std::string::npos;
         p = body.find("<polyline", p + 1)) {
      ++g.polylines;
      const std::string pts = attr(body.substr(p, body.find('>', p) - p), "points");
      if (!pts.empty()) g.points += 1 + static_cast<int>(std::count(pts.begin(), pts.end(), ' '));
    }
    for (size_t p = body.find("class=\"marker\""); p != std::string::npos;
         p = body.find("class=\"marker\"", p + 1))
      ++g.markers;
    out.push_back(g);
  }
  return out;
}

inline std::vector<SeriesGroup> named(const std::vector<SeriesGroup>& all,
                                      const std::string& name) {
  std::vector<SeriesGroup> out;
  for (const SeriesGroup& g : all)
    if (g.name == name) out.push_back(g);
  return out;
}

// metrics.jsonl text for `n` steps: loss falling, lr, grad_norm, step_s, tokens_per_s, peak bytes,
// tokens; val_loss every `eval_every` steps (0: none).
inline std::string metrics_lines(int n, int eval_every = 0, double lr = 1e-3) {
  std::string s;
  for (int i = 1; i <= n; ++i) {
    s += "{\"step\":" + std::to_string(i) + ",\"loss\":" + std::to_string(5.0 - 0.1 * i) +
         ",\"lr\":" + std::to_string(lr) + ",\"grad_norm\":" + std::to_string(1.0 + 0.01 * i) +
         ",\"step_s\":0.5,\"tokens_per_s\":64,\"peak_device_bytes\":1048576,\"tokens\":" +
         std::to_string(32 * i);
    if (eval_every > 0 && i % eval_every == 0)
      s += ",\"val_loss\":" + std::to_string(5.1 - 0.1 * i);
    s += "}\n";
  }
  return s;
}

// A run directory with metrics.jsonl (and summary.json when `summary` is not empty).
inline void write_run(const std::string& dir, const std::string& metrics,
                      const std::string& summary = "") {
  std::filesystem::create_directories(dir);
  testutil::write_all(dir + "/metrics.jsonl", metrics);
  if (!summary.empty()) testutil::write_all(dir + "/summary.json", summary);
}

}  // namespace mart::reporttest
