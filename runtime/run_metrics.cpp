#include "runtime/run_metrics.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/error.h"
#include "io/atomic_file.h"

namespace mart {
namespace {

// Every complete, parseable line; stops at the first torn one (only the last can be torn: lines
// are appended in order).
template <class F>
void for_each_line(const std::string& path, F&& f) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      break;
    }
    if (!j.is_object() || !j.contains("step") || !j["step"].is_number_integer()) break;
    f(line, j);
  }
}

double num(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
}

}  // namespace

int trim_metrics(const std::string& path, int step) {
  if (!std::filesystem::exists(path)) return 0;
  std::string kept;
  int last = 0;
  for_each_line(path, [&](const std::string& line, const nlohmann::json& j) {
    const int s = j["step"].get<int>();
    if (s > step) return;
    kept += line + "\n";
    last = std::max(last, s);
  });
  write_file_atomic(path, kept.data(), kept.size());
  return last;
}

void for_each_metrics_line(const std::string& path,
                           const std::function<void(const nlohmann::json& line)>& f) {
  for_each_line(path, [&](const std::string&, const nlohmann::json& j) { f(j); });
}

MetricsTotals metrics_totals(const std::string& path) {
  MetricsTotals t;
  std::vector<double> step_s;
  for_each_line(path, [&](const std::string&, const nlohmann::json& j) {
    const double loss = num(j, "loss");
    t.final_loss = loss;
    t.best_loss = t.lines == 0 ? loss : std::min(t.best_loss, loss);
    if (j.contains("val_loss")) t.final_val_loss = num(j, "val_loss");
    step_s.push_back(num(j, "step_s"));
    t.peak_device_bytes =
        std::max(t.peak_device_bytes, static_cast<uint64_t>(num(j, "peak_device_bytes")));
    ++t.lines;
  });
  if (step_s.size() > 1) step_s.erase(step_s.begin());  // the first step pays warm-up costs
  if (!step_s.empty()) {
    std::sort(step_s.begin(), step_s.end());
    const size_t n = step_s.size();
    t.median_step_s = n % 2 ? step_s[n / 2] : 0.5 * (step_s[n / 2 - 1] + step_s[n / 2]);
  }
  return t;
}

}  // namespace mart
