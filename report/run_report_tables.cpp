// The table and strip parts of the `mart report` page (report/run_report.h).
#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <set>

#include "common/units.h"
#include "layout/act_mode.h"
#include "report/html.h"
#include "report/run_report.h"
#include "report/svg.h"

namespace mart {
namespace {

// "0.000512 s", "1.25 s": three significant digits at any scale.
std::string seconds(double s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g s", s);
  return buf;
}

std::string bytes_text(std::optional<double> b) {
  return b ? format_bytes(static_cast<uint64_t>(*b)) : "-";
}

std::string text_at(const nlohmann::json& j, const std::vector<const char*>& path) {
  const nlohmann::json* cur = &j;
  for (const char* key : path) {
    if (!cur->is_object() || !cur->contains(key)) return "-";
    cur = &(*cur)[key];
  }
  if (cur->is_string()) return cur->get<std::string>();
  if (cur->is_null()) return "-";
  return cur->dump();
}

// Whole-run figures from metrics.jsonl (so a run still training has them too).
struct RunTotals {
  double last_step = 0, final_loss = NAN, best_loss = NAN, final_val = NAN;
  double median_tokens_per_s = NAN, train_s = 0;
  std::optional<double> peak_bytes;
};

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

RunTotals totals(const RunData& r) {
  RunTotals t;
  std::vector<double> rates;
  for (const nlohmann::json& m : r.metrics) {
    t.last_step = json_number(m, {"step"}).value_or(t.last_step);
    if (const auto l = json_number(m, {"loss"})) {
      t.final_loss = *l;
      t.best_loss = std::isnan(t.best_loss) ? *l : std::min(t.best_loss, *l);
    }
    if (const auto v = json_number(m, {"val_loss"})) t.final_val = *v;
    if (const auto s = json_number(m, {"step_s"})) t.train_s += *s;
    if (const auto x = json_number(m, {"tokens_per_s"})) rates.push_back(*x);
    if (const auto b = json_number(m, {"peak_device_bytes"}))
      t.peak_bytes = std::max(t.peak_bytes.value_or(0), *b);
  }
  if (rates.size() > 1) rates.erase(rates.begin());  // the first step warms up (as the summary)
  t.median_tokens_per_s = median(rates);
  return t;
}

std::string num_or_dash(double v, int digits) {
  return std::isnan(v) ? "-" : format_fixed(v, digits);
}

}  // namespace

std::string runs_table(const std::vector<RunData>& runs) {
  std::vector<std::vector<std::string>> rows = {
      {"run", "status", "steps", "final loss", "best loss", "final val loss", "tokens/s (median)",
       "peak device memory", "train time (sum of step times)", "params", "device"}};
  std::string notes, dirs;
  for (const RunData& r : runs) {
    const RunTotals t = totals(r);
    const bool summary = r.summary.is_object();
    const auto params = json_number(r.summary, {"params"});
    dirs += "<li><b>" + html_escape(r.name) + "</b>: <code>" + html_escape(r.dir) + "</code></li>";
    rows.push_back({r.name, summary ? "summary.json written" : "no summary.json (running?)",
                    format_fixed(t.last_step, 0), num_or_dash(t.final_loss, 4),
                    num_or_dash(t.best_loss, 4), num_or_dash(t.final_val, 4),
                    num_or_dash(t.median_tokens_per_s, 0), bytes_text(t.peak_bytes),
                    format_fixed(t.train_s, 2) + " s", params ? format_fixed(*params, 0) : "-",
                    text_at(r.summary, {"backend"}) + " / " + text_at(r.summary, {"device"})});
    if (r.skipped_torn_line)
      notes += "<p class=\"muted\">" + html_escape(r.name) +
               ": the last line of metrics.jsonl was incomplete (written while the run was "
               "stopped or still running) and is left out.</p>\n";
  }
  return html_table(rows) + "<ul class=\"muted\">" + dirs + "</ul>\n" + notes;
}

namespace {

bool has_planner(const RunData& r) {
  return r.summary.is_object() && r.summary.contains("planner");
}

// The plan table's cell for one run: how the plan was chosen, its memory mode, pinned memory.
std::string chosen_by(const RunData& r) {
  return has_planner(r)
             ? "the planner (memory.mode auto): profile, then search"
             : "the job config (memory.mode " + text_at(r.summary, {"plan", "memory_mode"}) + ")";
}
std::string memory_mode(const RunData& r) {
  const std::string m = text_at(r.summary, {"plan", "memory_mode"});
  return has_planner(r) ? "auto (planned as " + m + ")" : m;  // the session reports the plan's
}
std::string pinned_host(const RunData& r) {
  return bytes_text(json_number(r.summary, {"plan", "pinned_host_bytes"}));
}

}  // namespace

std::string plan_section(const std::vector<RunData>& runs) {
  std::vector<std::string> head = {"field"};
  for (const RunData& r : runs) head.push_back(r.name);
  std::vector<std::vector<std::string>> rows = {head};
  using Cell = std::function<std::string(const RunData&)>;
  auto at = [](std::initializer_list<const char*> path) {
    const std::vector<const char*> p(path);
    return Cell([p](const RunData& r) { return text_at(r.summary, p); });
  };
  struct Row {
    const char* label;
    Cell cell;
    bool planner_only;  // shown only when some run was planned by memory.mode auto
  };
  const Row table[] = {
      {"chosen by", chosen_by, false},
      {"memory mode", memory_mode, false},
      {"model states", at({"plan", "model_states"}), false},
      {"micro-batch", at({"plan", "micro_batch"}), false},
      {"gradient accumulation", at({"plan", "grad_accum"}), false},
      {"device budget", at({"plan", "device_budget"}), false},
      {"pinned host memory", pinned_host, false},
      {"planner: profile source", at({"planner", "profile", "source"}), true},
      {"planner: binding resource", at({"planner", "binding_resource"}), true},
      {"planner: why this is the binding resource", at({"planner", "why"}), true},
      {"planner: why this plan", at({"planner", "why_chosen"}), true},
  };
  const bool any_planner = std::any_of(runs.begin(), runs.end(), has_planner);
  for (const Row& row : table) {
    if (row.planner_only && !any_planner) continue;
    std::vector<std::string> cells = {row.label};
    for (const RunData& r : runs) cells.push_back(row.cell(r));
    rows.push_back(cells);
  }
  std::string s = html_table(rows);
  const bool any_plan = std::any_of(runs.begin(), runs.end(), [](const RunData& r) {
    return r.summary.is_object() && r.summary.contains("plan");
  });
  if (!any_plan)
    s += "<p class=\"muted\">no summary.json yet: the plan is recorded when a run ends.</p>\n";
  return s;
}

namespace {

// The width of a legend entry: a 12 px swatch, the label, a gap.
double legend_item_width(const std::string& label) {
  return 30 + 7.0 * static_cast<double>(label.size());
}

// The colour of an activation mode's cells (by its index in kActModeTraits).
const char* mode_color(ActMode m) {
  return series_color(static_cast<int>(m) + 2);
}

// The mode named `name`, or nullopt for a name this build does not know.
std::optional<ActMode> find_mode(const std::string& name) {
  for (const ActModeTraits& t : kActModeTraits)
    if (name == t.name) return t.mode;
  return std::nullopt;
}

}  // namespace

std::string block_modes_section(const std::vector<RunData>& runs) {
  constexpr double kLabel = 160, kCell = 22, kRow = 26;
  size_t most = 0;
  for (const RunData& r : runs)
    if (r.summary.contains("plan") && r.summary["plan"].contains("block_modes"))
      most = std::max(most, r.summary["plan"]["block_modes"].size());
  if (most == 0) return "<p class=\"muted\">no summary.json with the plan's block modes yet.</p>\n";
  const double cell = std::min(kCell, 720.0 / static_cast<double>(most));
  std::set<ActMode> used;
  for (const RunData& r : runs)
    if (r.summary.contains("plan") && r.summary["plan"].contains("block_modes"))
      for (const nlohmann::json& m : r.summary["plan"]["block_modes"])
        if (m.is_string())
          if (const std::optional<ActMode> mode = find_mode(m.get<std::string>()))
            used.insert(*mode);
  double legend = 0;
  for (ActMode m : used) legend += legend_item_width(act_mode_name(m));
  SvgCanvas c(kLabel + std::max(cell * static_cast<double>(most), legend) + 20,
              kRow * static_cast<double>(runs.size() + 1) + 10);
  for (size_t i = 0; i < runs.size(); ++i) {
    const double y = 8 + kRow * static_cast<double>(i);
    c.text(kLabel - 8, y + 15, runs[i].name, SvgCanvas::Anchor::End, 12);
    if (!runs[i].summary.contains("plan") || !runs[i].summary["plan"].contains("block_modes"))
      continue;
    const nlohmann::json& modes = runs[i].summary["plan"]["block_modes"];
    c.begin_group("class=\"block-strip\" data-run=\"" + html_escape(runs[i].name) + "\"");
    for (size_t b = 0; b < modes.size(); ++b) {
      const std::string name = modes[b].is_string() ? modes[b].get<std::string>() : "?";
      const std::optional<ActMode> m = find_mode(name);
      c.rect(kLabel + cell * static_cast<double>(b), y, cell - 2, 20, m ? mode_color(*m) : "#ccc",
             "block", "block " + std::to_string(b) + ": " + name);
    }
    c.end_group();
  }
  double x = kLabel;
  const double ly = 8 + kRow * static_cast<double>(runs.size());
  for (ActMode m : used) {
    c.rect(x, ly + 4, 12, 12, mode_color(m));
    c.text(x + 16, ly + 14, act_mode_name(m), SvgCanvas::Anchor::Start, 11);
    x += legend_item_width(act_mode_name(m));
  }
  return c.str() +
         "<p class=\"muted\">Block 0 (nearest the embedding) on the left; hover a cell for its "
         "mode.</p>\n";
}

namespace {

std::string rel_diff(double predicted, double measured) {
  if (predicted == 0) return measured == 0 ? "exact" : "-";
  if (predicted == measured) return "exact";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%+.1f%%", 100 * (measured - predicted) / predicted);
  return buf;
}

}  // namespace

std::string predicted_section(const std::vector<RunData>& runs) {
  std::vector<std::vector<std::string>> rows = {
      {"run", "figure", "predicted", "measured", "measured vs predicted", "predicted by"}};
  for (const RunData& r : runs) {
    const RunTotals t = totals(r);
    const nlohmann::json& s = r.summary;
    if (const auto b = json_number(s, {"plan", "device_budget_bytes"}); b && t.peak_bytes)
      rows.push_back({r.name, "peak device memory", bytes_text(b), bytes_text(t.peak_bytes),
                      rel_diff(*b, *t.peak_bytes), "the plan's arena budget (exact formulas)"});
    if (!has_planner(r)) continue;
    const char* by = "the planner's cost model (memory.mode auto)";
    if (const auto p = json_number(s, {"planner", "predicted", "iteration_s"}))
      if (const auto m = json_number(s, {"median_step_s"}))
        rows.push_back(
            {r.name, "step time (median)", seconds(*p), seconds(*m), rel_diff(*p, *m), by});
    if (const auto p = json_number(s, {"planner", "predicted", "tokens_per_s"}))
      if (const auto m = json_number(s, {"tokens_per_s"}))
        rows.push_back(
            {r.name, "tokens/s", format_fixed(*p, 0), format_fixed(*m, 0), rel_diff(*p, *m), by});
    if (const auto p = json_number(s, {"planner", "predicted", "pinned_host_bytes"}))
      if (const auto m = json_number(s, {"plan", "pinned_host_bytes"}))
        rows.push_back(
            {r.name, "pinned host memory", bytes_text(p), bytes_text(m), rel_diff(*p, *m), by});
  }
  if (rows.size() == 1)
    return "<p class=\"muted\">no predictions recorded (summary.json is written when a run "
           "ends).</p>\n";
  return html_table(rows) +
         "<p class=\"muted\">The step time is predicted only when memory.mode is auto (the planner "
         "chose the plan); the device memory is always the plan's exact budget.</p>\n";
}

std::string device_regions_bars(const std::vector<RunData>& runs) {
  static constexpr std::array<const char*, 8> kRegions = {
      "model_states", "block_inputs", "activations", "head", "scratch", "io", "kv_cache", "decode"};
  constexpr double kLabel = 160, kWidth = 700, kRow = 30;
  double most = 0;
  for (const RunData& r : runs)
    if (const auto b = json_number(r.summary, {"plan", "device_budget_bytes"}))
      most = std::max(most, *b);
  if (most <= 0) return "";
  SvgCanvas c(kLabel + kWidth + 20, kRow * (runs.size() + 1) + 10);
  std::set<size_t> used;
  for (size_t i = 0; i < runs.size(); ++i) {
    const double y = 8 + kRow * static_cast<double>(i);
    c.text(kLabel - 8, y + 15, runs[i].name, SvgCanvas::Anchor::End, 12);
    double x = kLabel;
    for (size_t k = 0; k < kRegions.size(); ++k) {
      const auto b = json_number(runs[i].summary, {"plan", "device_regions", kRegions[k]});
      if (!b || *b <= 0) continue;
      used.insert(k);
      const double w = *b / most * kWidth;
      c.begin_group("class=\"bar-segment\" data-name=\"" + std::string(kRegions[k]) +
                    "\" data-bytes=\"" + format_fixed(*b, 0) + "\"");
      c.rect(x, y, w, 20, series_color(static_cast<int>(k)), "",
             std::string(kRegions[k]) + ": " + format_bytes(static_cast<uint64_t>(*b)));
      c.end_group();
      x += w;
    }
    if (const auto peak = totals(runs[i]).peak_bytes) {  // the measured peak, a black tick
      const double px = kLabel + *peak / most * kWidth;
      c.line(px, y - 3, px, y + 23, "#000", 2);
    }
  }
  double x = kLabel;
  const double ly = 8 + kRow * static_cast<double>(runs.size());
  for (size_t k : used) {
    c.rect(x, ly + 4, 12, 12, series_color(static_cast<int>(k)));
    c.text(x + 16, ly + 14, kRegions[k], SvgCanvas::Anchor::Start, 11);
    x += legend_item_width(kRegions[k]);
  }
  return "<h3>Planned device regions</h3>\n" + c.str() +
         "<p class=\"muted\">The arena's regions as planned (summary.json plan.device_regions); "
         "the black tick is the measured peak.</p>\n";
}

std::string config_section(const std::vector<RunData>& runs) {
  std::string s;
  for (const RunData& r : runs) {
    s += "<details" + std::string(runs.size() == 1 ? " open" : "") + "><summary>" +
         html_escape(r.name) + ": config.yaml</summary>\n";
    s += r.config_text.empty() ? "<p class=\"muted\">no config.yaml</p>\n"
                               : "<pre>" + html_escape(r.config_text) + "</pre>\n";
    s += "</details>\n";
  }
  return s;
}

}  // namespace mart
