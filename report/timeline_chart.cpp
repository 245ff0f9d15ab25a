#include "report/timeline_chart.h"

#include <algorithm>
#include <array>
#include <cstdio>

#include "common/error.h"
#include "common/regular_file.h"
#include "common/units.h"
#include "nlohmann/json.hpp"
#include "report/html.h"
#include "report/svg.h"

namespace mart {
namespace {

// Layout, SVG user units.
constexpr double kLeft = 78, kRight = 12, kTop = 8, kLaneH = 20, kLaneGap = 6;
constexpr double kAxisH = 34, kLegendRowH = 18, kLegendItemW = 118;

std::string ms(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f ms", s * 1e3);
  return buf;
}

std::string tooltip(const TimelineSpan& s) {
  std::string t = s.label.empty() ? span_kind_name(s.kind) : s.label;
  t += "\nstart " + ms(s.start_s) + ", duration " + ms(s.end_s - s.start_s);
  if (s.bytes) t += ", " + format_bytes(s.bytes);
  return t;
}

}  // namespace

const char* span_kind_color(SpanKind kind) {
  switch (kind) {
    case SpanKind::Forward:
      return "#4e79a7";
    case SpanKind::Backward:
      return "#f28e2b";
    case SpanKind::Recompute:
      return "#e15759";
    case SpanKind::Head:
      return "#76b7b2";
    case SpanKind::Optimizer:
      return "#59a14f";
    case SpanKind::Upload:
      return "#9c755f";
    case SpanKind::Offload:
      return "#b07aa1";
    case SpanKind::SwapOut:
      return "#ff9da7";
    case SpanKind::SwapIn:
      return "#edc948";
    case SpanKind::Adam:
      return "#8cd17d";
    case SpanKind::Sync:
      return "#bab0ac";
    case SpanKind::Other:
      return "#79706e";
  }
  return "#79706e";
}

std::string render_timeline(const StepTimeline& t, const TimelineChartOptions& opt) {
  std::array<bool, kTimelineLanes> has_lane{};
  std::array<bool, kSpanKinds> has_kind{};
  double end = t.duration_s;
  for (const TimelineSpan& s : t.spans) {
    has_lane[static_cast<int>(s.lane)] = true;
    has_kind[static_cast<int>(s.kind)] = true;
    end = std::max(end, s.end_s);
  }
  const double scale_s = opt.time_scale_s > 0 ? opt.time_scale_s : end;
  const std::vector<double> ticks = nice_ticks(0, std::max(scale_s, 1e-9) * 1e3, 8);  // ms
  const double axis_ms = ticks.back();
  const int n_lanes = static_cast<int>(std::count(has_lane.begin(), has_lane.end(), true));
  const int n_kinds = static_cast<int>(std::count(has_kind.begin(), has_kind.end(), true));
  const double plot_w = opt.width - kLeft - kRight;
  const int per_row = std::max(1, static_cast<int>(plot_w / kLegendItemW));
  const int legend_rows = opt.legend ? (n_kinds + per_row - 1) / per_row : 0;
  const double lanes_h = std::max(1, n_lanes) * (kLaneH + kLaneGap);
  SvgCanvas c(opt.width, kTop + lanes_h + kAxisH + legend_rows * kLegendRowH + 4);
  auto x_of = [&](double sec) {  // clamped: a span past a shared scale ends at its edge
    return kLeft + std::clamp(sec * 1e3 / axis_ms, 0.0, 1.0) * plot_w;
  };

  // Grid and axis.
  const double axis_y = kTop + lanes_h;
  for (double v : ticks) {
    const double x = kLeft + v / axis_ms * plot_w;
    c.line(x, kTop, x, axis_y, "#e4e4e4");
    c.text(x, axis_y + 14, format_tick(v), SvgCanvas::Anchor::Middle, 10, "#555");
  }
  c.line(kLeft, axis_y, kLeft + plot_w, axis_y, "#999");
  c.text(kLeft + plot_w / 2, axis_y + 29, "ms from the start of the iteration",
         SvgCanvas::Anchor::Middle, 10, "#555");
  if (n_lanes == 0)
    c.text(kLeft + 6, kTop + kLaneH * 0.7, "no spans", SvgCanvas::Anchor::Start, 11, "#777");

  // Lanes.
  int row = 0;
  for (int l = 0; l < kTimelineLanes; ++l) {
    if (!has_lane[l]) continue;
    const TimelineLane lane = static_cast<TimelineLane>(l);
    const double y = kTop + row++ * (kLaneH + kLaneGap);
    c.begin_group("class=\"lane\" data-name=\"" + html_escape(lane_name(lane)) + "\"");
    c.text(kLeft - 6, y + kLaneH * 0.7, lane_name(lane), SvgCanvas::Anchor::End, 11);
    c.rect(kLeft, y, plot_w, kLaneH, "#f6f6f6");
    for (const TimelineSpan& s : t.spans) {
      if (s.lane != lane) continue;
      const double x0 = x_of(s.start_s);
      const double w = std::max(opt.min_span_px, x_of(s.end_s) - x0);
      c.rect(x0, y + 1, w, kLaneH - 2, span_kind_color(s.kind), "span", tooltip(s));
    }
    c.end_group();
  }

  // Legend: the kinds present.
  if (opt.legend) {
    int i = 0;
    for (int k = 0; k < kSpanKinds; ++k) {
      if (!has_kind[k]) continue;
      const double x = kLeft + (i % per_row) * kLegendItemW;
      const double y = axis_y + kAxisH + (i / per_row) * kLegendRowH;
      c.rect(x, y, 12, 12, span_kind_color(static_cast<SpanKind>(k)));
      c.text(x + 16, y + 10, span_kind_name(static_cast<SpanKind>(k)), SvgCanvas::Anchor::Start,
             11);
      ++i;
    }
  }
  return c.str();
}

StepTimeline load_timeline_file(const std::string& path) {
  const nlohmann::json j =
      nlohmann::json::parse(read_regular_file(path, "timeline"), nullptr, false);
  MART_CHECK(!j.is_discarded(), path, " is not valid JSON (a run interrupted while writing it?)");
  return timeline_from_json(j, path);
}

}  // namespace mart
