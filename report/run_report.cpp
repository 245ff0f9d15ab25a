#include "report/run_report.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "common/error.h"
#include "common/units.h"
#include "report/html.h"
#include "report/line_chart.h"
#include "report/svg.h"
#include "report/timeline_chart.h"

namespace mart {
namespace {

enum class XKey { Step, Tokens };
enum class RefKind { None, Loss, DeviceBudget };

// One chart section of the page: which metric against what, and its decorations.
struct ChartDef {
  const char* id;
  const char* heading;
  const char* metric;  // the metrics.jsonl key, and the series' data-name
  XKey x;
  const char* y_title;
  double y_divisor;  // values are divided by this (bytes -> MiB)
  YScale scale;
  bool markers;
  bool y_from_zero;
  RefKind ref;
  const char* empty_note;  // shown when no run has the metric
};

constexpr double kMiB = 1024.0 * 1024.0;

constexpr ChartDef kCharts[] = {
    {"loss-step", "Training loss by step", "loss", XKey::Step, "loss (nats/token)", 1,
     YScale::Linear, false, false, RefKind::Loss, "no training step yet"},
    {"loss-tokens", "Training loss by tokens seen", "loss", XKey::Tokens, "loss (nats/token)", 1,
     YScale::Linear, false, false, RefKind::Loss, "no training step yet"},
    {"val-loss", "Validation loss", "val_loss", XKey::Step, "validation loss (nats/token)", 1,
     YScale::Linear, true, false, RefKind::Loss,
     "no evaluation ran (train.eval_every = 0, or the job has no validation data)"},
    {"lr", "Learning rate", "lr", XKey::Step, "learning rate", 1, YScale::Linear, false, false,
     RefKind::None, "no training step yet"},
    {"grad-norm", "Gradient norm (before clipping)", "grad_norm", XKey::Step, "gradient norm", 1,
     YScale::Auto, false, false, RefKind::None, "no training step yet"},
    {"tokens-per-s", "Throughput", "tokens_per_s", XKey::Step, "tokens/s", 1, YScale::Linear, false,
     true, RefKind::None, "no training step yet"},
    {"step-time", "Step time", "step_s", XKey::Step, "seconds per step", 1, YScale::Linear, false,
     true, RefKind::None, "no training step yet"},
    {"device-memory", "Device memory", "peak_device_bytes", XKey::Step, "peak device memory (MiB)",
     kMiB, YScale::Linear, false, true, RefKind::DeviceBudget,
     "no metrics line records peak_device_bytes"},
};

// The loss reference: --baseline, else each distinct corpus entropy rate in the runs' summaries.
std::vector<ReferenceLine> loss_references(const std::vector<RunData>& runs,
                                           const RunReportOptions& opt) {
  if (opt.baseline) return {{*opt.baseline, "baseline " + format_fixed(*opt.baseline, 4), -1}};
  std::vector<ReferenceLine> refs;
  std::set<double> seen;
  for (size_t i = 0; i < runs.size(); ++i) {
    const std::optional<double> h = json_number(runs[i].summary, {"entropy_rate_nats"});
    if (h && seen.insert(*h).second) refs.push_back({*h, "", static_cast<int>(i)});
  }
  for (ReferenceLine& r : refs) {
    r.label = "corpus entropy rate " + format_fixed(r.y, 4) + " (best achievable)";
    if (refs.size() > 1)
      r.label = runs[static_cast<size_t>(r.color)].name + ": " + r.label;
    else
      r.color = -1;
  }
  return refs;
}

std::vector<ReferenceLine> budget_references(const std::vector<RunData>& runs) {
  std::vector<ReferenceLine> refs;
  for (size_t i = 0; i < runs.size(); ++i)
    if (const auto b = json_number(runs[i].summary, {"plan", "device_budget_bytes"}))
      refs.push_back({*b / kMiB,
                      "planned " + runs[i].name + " " + format_bytes(static_cast<uint64_t>(*b)),
                      static_cast<int>(i)});
  return refs;
}

std::string chart_section_body(const ChartDef& d, const std::vector<RunData>& runs,
                               const RunReportOptions& opt) {
  LineChartSpec spec;
  spec.x_title = d.x == XKey::Step ? "step" : "tokens seen";
  spec.y_title = d.y_title;
  spec.y_scale = d.scale;
  spec.y_from_zero = d.y_from_zero;
  size_t points = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    const MetricSeries m = d.x == XKey::Step ? metric_series(runs[i], "step", d.metric)
                                             : tokens_series(runs[i], d.metric);
    ChartSeries s{d.metric, runs[i].name, m.x, m.y, static_cast<int>(i), d.markers};
    for (double& y : s.y) y /= d.y_divisor;
    points += s.x.size();
    spec.series.push_back(std::move(s));
  }
  switch (d.ref) {
    case RefKind::None:
      break;
    case RefKind::Loss:
      spec.references = loss_references(runs, opt);
      break;
    case RefKind::DeviceBudget:
      spec.references = budget_references(runs);
      break;
  }
  if (points == 0) return "<p class=\"muted\">" + html_escape(d.empty_note) + "</p>\n";
  return render_line_chart(spec);
}

std::string nav(const std::vector<std::string>& ids) {
  std::string s = "<p class=\"muted\">";
  for (size_t i = 0; i < ids.size(); ++i)
    s += (i ? " &middot; " : "") + std::string("<a href=\"#") + html_escape(ids[i]) + "\">" +
         html_escape(ids[i]) + "</a>";
  return s + "</p>\n";
}

bool has_timeline(const std::vector<RunData>& runs) {
  for (const RunData& r : runs)
    if (!r.timeline_path.empty()) return true;
  return false;
}

// Each run's RUN/timeline.json (written by `mart train` for train.trace_step), one chart per run
// on a shared time scale so runs compare at a glance. Nothing is added when no run holds one.
void add_timeline_section(HtmlPage& page, const std::vector<RunData>& runs) {
  std::vector<std::pair<const RunData*, StepTimeline>> timelines;
  double scale = 0;
  for (const RunData& r : runs)
    if (!r.timeline_path.empty()) {
      timelines.emplace_back(&r, load_timeline_file(r.timeline_path));
      scale = std::max(scale, timelines.back().second.duration_s);
    }
  if (timelines.empty()) return;
  std::string body;
  for (size_t i = 0; i < timelines.size(); ++i) {
    const auto& [run, t] = timelines[i];
    TimelineChartOptions o;
    o.time_scale_s = scale;
    o.legend = i + 1 == timelines.size();
    body += "<h3>" + html_escape(run->name) + ": step " + std::to_string(t.step) + " on " +
            html_escape(t.device) + ", " + format_tick(t.duration_s * 1e3) + " ms</h3>\n" +
            render_timeline(t, o);
  }
  page.add_section("timeline", "Measured iteration timeline", body);
}

std::string default_title(const std::vector<RunData>& runs) {
  std::string t = "MART report: ";
  for (size_t i = 0; i < runs.size(); ++i) t += (i ? ", " : "") + runs[i].name;
  return t;
}

}  // namespace

const std::vector<std::string>& run_report_section_ids() {
  static const std::vector<std::string> ids = [] {
    std::vector<std::string> v = {"runs"};
    for (const ChartDef& d : kCharts) v.push_back(d.id);
    for (const char* id : {"plan", "block-modes", "predicted", "timeline", "config"})
      v.push_back(id);
    return v;
  }();
  return ids;
}

HtmlPage build_run_report(const std::vector<RunData>& runs, const RunReportOptions& opt) {
  MART_CHECK(!runs.empty(), "mart report: no run directory given");
  const std::string title = opt.title.empty() ? default_title(runs) : opt.title;
  HtmlPage page(title);
  page.add("<h1>" + html_escape(title) + "</h1>\n");
  std::vector<std::string> ids = run_report_section_ids();
  if (!has_timeline(runs)) ids.erase(std::find(ids.begin(), ids.end(), "timeline"));
  page.add(nav(ids));
  page.add_section("runs", runs.size() > 1 ? "Runs" : "Run", runs_table(runs));
  for (const ChartDef& d : kCharts) {
    std::string body = chart_section_body(d, runs, opt);
    if (d.ref == RefKind::DeviceBudget) body += device_regions_bars(runs);  // planned regions
    page.add_section(d.id, d.heading, body);
  }
  page.add_section("plan", "Plan", plan_section(runs));
  page.add_section("block-modes", "Activation mode per block", block_modes_section(runs));
  page.add_section("predicted", "Predicted versus measured", predicted_section(runs));
  add_timeline_section(page, runs);
  page.add_section("config", "Configuration", config_section(runs));
  return page;
}

}  // namespace mart
