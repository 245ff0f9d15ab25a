#include "report/line_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "common/error.h"
#include "report/html.h"
#include "report/svg.h"

namespace mart {
namespace {

constexpr double kLeft = 72, kRight = 24, kTop = 34, kBottom = 46;  // plot margins
constexpr const char* kGrey = "#888";

// One axis: data range -> pixels, linear or log10, with its tick values.
struct Axis {
  double lo = 0, hi = 1;  // in axis space (log10 of the value when log)
  bool log = false;
  std::vector<double> ticks;  // values (not log)
  double pos(double v, double p0, double p1) const {
    const double a = log ? std::log10(v) : v;
    return p0 + (a - lo) / (hi - lo) * (p1 - p0);
  }
};

Axis linear_axis(double lo, double hi, int target) {
  Axis a;
  a.ticks = nice_ticks(lo, hi, target);
  a.lo = a.ticks.front();
  a.hi = a.ticks.back();
  return a;
}

// Log axis over [lo, hi] (both > 0): decades when the range spans more than one, else round
// linear ticks placed on the log scale.
Axis log_axis(double lo, double hi) {
  Axis a;
  a.log = true;
  const double llo = std::log10(lo), lhi = std::log10(hi);
  if (lhi - llo >= 1.5) {
    for (double k = std::floor(llo); k <= std::ceil(lhi); ++k) a.ticks.push_back(std::pow(10, k));
    a.lo = std::floor(llo);
    a.hi = std::ceil(lhi);
    return a;
  }
  for (double t : nice_ticks(lo, hi, 5))
    if (t > 0) a.ticks.push_back(t);
  a.lo = std::log10(std::min(lo, a.ticks.front()));
  a.hi = std::log10(std::max(hi, a.ticks.back()));
  if (a.hi - a.lo < 1e-12) a.hi = a.lo + 1;
  return a;
}

bool want_log(const LineChartSpec& spec, double lo, double hi) {
  switch (spec.y_scale) {
    case YScale::Linear:
      return false;
    case YScale::Log:
      return lo > 0;  // a non-positive value cannot be drawn on a log axis: linear instead
    case YScale::Auto:
      return lo > 0 && hi / lo > 50;
  }
  return false;
}

struct Ranges {
  double x_lo = 0, x_hi = 0, y_lo = 0, y_hi = 0;
  bool any = false;
};

Ranges data_ranges(const LineChartSpec& spec) {
  Ranges r;
  auto take = [&r](double x, double y) {
    if (!r.any) {
      r = {x, x, y, y, true};
      return;
    }
    r.x_lo = std::min(r.x_lo, x);
    r.x_hi = std::max(r.x_hi, x);
    r.y_lo = std::min(r.y_lo, y);
    r.y_hi = std::max(r.y_hi, y);
  };
  for (const ChartSeries& s : spec.series) {
    MART_CHECK(s.x.size() == s.y.size(), "line chart '", s.metric, "' of run '", s.run,
               "': ", s.x.size(), " x values but ", s.y.size(), " y values");
    for (size_t i = 0; i < s.x.size(); ++i) {
      MART_CHECK(std::isfinite(s.x[i]) && std::isfinite(s.y[i]), "line chart '", s.metric,
                 "' of run '", s.run, "': point ", i, " is not finite");
      take(s.x[i], s.y[i]);
    }
  }
  if (r.any)
    for (const ReferenceLine& ref : spec.references)
      if (std::isfinite(ref.y)) take(r.x_lo, ref.y);
  if (r.any && spec.y_from_zero && spec.y_scale == YScale::Linear) take(r.x_lo, 0);
  return r;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

struct Frame {
  double x0, x1, y0, y1;  // plot area: x0 left, x1 right, y0 bottom, y1 top (pixels)
  Axis x, y;
};

void draw_axes(SvgCanvas& c, const Frame& f, const LineChartSpec& spec) {
  for (double t : f.y.ticks) {
    const double py = f.y.pos(t, f.y0, f.y1);
    c.line(f.x0, py, f.x1, py, "#eee");
    c.text(f.x0 - 6, py + 4, format_tick(t), SvgCanvas::Anchor::End, 11, "#555");
  }
  for (double t : f.x.ticks) {
    const double px = f.x.pos(t, f.x0, f.x1);
    c.line(px, f.y0, px, f.y0 + 4, kGrey);
    c.text(px, f.y0 + 17, format_tick(t), SvgCanvas::Anchor::Middle, 11, "#555");
  }
  c.line(f.x0, f.y0, f.x1, f.y0, kGrey);
  c.line(f.x0, f.y0, f.x0, f.y1, kGrey);
  c.text((f.x0 + f.x1) / 2, spec.height - 8, spec.x_title, SvgCanvas::Anchor::Middle, 12);
  const double ty = (f.y0 + f.y1) / 2;
  c.raw("<text x=\"16\" y=\"" + fmt("%.2f", ty) + "\" font-size=\"12\" fill=\"#333\" " +
        "text-anchor=\"middle\" transform=\"rotate(-90 16 " + fmt("%.2f", ty) + ")\">" +
        html_escape(spec.y_title + (f.y.log ? " (log)" : "")) + "</text>\n");
}

void draw_series(SvgCanvas& c, const Frame& f, const ChartSeries& s) {
  std::vector<double> px(s.x.size()), py(s.y.size());
  for (size_t i = 0; i < s.x.size(); ++i) {
    px[i] = f.x.pos(s.x[i], f.x0, f.x1);
    py[i] = f.y.pos(s.y[i], f.y0, f.y1);
  }
  const char* color = series_color(s.color);
  c.begin_group("class=\"series\" data-name=\"" + html_escape(s.metric) + "\" data-run=\"" +
                html_escape(s.run) + "\"");
  c.raw("<title>" +
        html_escape(s.run + ": " + s.metric + ", " + std::to_string(s.x.size()) + " points, last " +
                    format_tick(s.y.back())) +
        "</title>\n");
  c.polyline(px, py, color, 1.6);
  if (s.markers || s.x.size() == 1) {
    const double r = s.x.size() == 1 ? 4 : 2.5;
    for (size_t i = 0; i < px.size(); ++i)
      c.raw("<circle class=\"marker\" cx=\"" + fmt("%.2f", px[i]) + "\" cy=\"" +
            fmt("%.2f", py[i]) + "\" r=\"" + fmt("%.1f", r) + "\" fill=\"" + color + "\"/>\n");
  }
  c.end_group();
}

void draw_reference(SvgCanvas& c, const Frame& f, const ReferenceLine& ref) {
  if (!std::isfinite(ref.y) || (f.y.log && ref.y <= 0)) return;
  const double py = f.y.pos(ref.y, f.y0, f.y1);
  const char* color = ref.color < 0 ? "#555" : series_color(ref.color);
  c.begin_group("class=\"reference\" data-name=\"" + html_escape(ref.label) + "\"");
  c.line(f.x0, py, f.x1, py, color, 1.2, "6 4");
  c.text(f.x1 - 4, py - 4, ref.label, SvgCanvas::Anchor::End, 11, color);
  c.end_group();
}

// One swatch + label per series along the top edge.
void draw_legend(SvgCanvas& c, const LineChartSpec& spec) {
  std::set<std::string> metrics;
  for (const ChartSeries& s : spec.series) metrics.insert(s.metric);
  c.begin_group("class=\"legend\"");
  double x = kLeft;
  for (const ChartSeries& s : spec.series) {
    std::string label = metrics.size() > 1 ? s.run + " " + s.metric : s.run;
    if (s.x.empty()) label += " (no data)";
    c.rect(x, 10, 14, 4, series_color(s.color));
    c.text(x + 18, 16, label, SvgCanvas::Anchor::Start, 11);
    x += 30 + 6.5 * static_cast<double>(label.size());
  }
  c.end_group();
}

}  // namespace

std::string render_line_chart(const LineChartSpec& spec) {
  SvgCanvas c(spec.width, spec.height);
  const Ranges r = data_ranges(spec);
  Frame f;
  f.x0 = kLeft;
  f.x1 = spec.width - kRight;
  f.y0 = spec.height - kBottom;
  f.y1 = kTop;
  draw_legend(c, spec);
  if (!r.any) {
    c.rect(f.x0, f.y1, f.x1 - f.x0, f.y0 - f.y1, "#fafafa");
    c.text((f.x0 + f.x1) / 2, (f.y0 + f.y1) / 2, "no data", SvgCanvas::Anchor::Middle, 13, kGrey);
    return c.str();
  }
  f.x = linear_axis(r.x_lo, r.x_hi, 8);
  f.y = want_log(spec, r.y_lo, r.y_hi) ? log_axis(r.y_lo, r.y_hi) : linear_axis(r.y_lo, r.y_hi, 5);
  draw_axes(c, f, spec);
  for (const ReferenceLine& ref : spec.references) draw_reference(c, f, ref);
  for (const ChartSeries& s : spec.series)
    if (!s.x.empty()) draw_series(c, f, s);
  return c.str();
}

}  // namespace mart
