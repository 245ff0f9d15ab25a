#include "report/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/error.h"
#include "report/html.h"

namespace mart {

std::vector<double> nice_ticks(double lo, double hi, int target) {
  MART_CHECK(std::isfinite(lo) && std::isfinite(hi), "nice_ticks: non-finite range [", lo, ", ", hi,
             "]");
  if (lo > hi) std::swap(lo, hi);
  if (hi - lo < 1e-300) {  // one value: a range around it
    const double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> ticks;
  const double first = std::floor(lo / step) * step;
  for (double t = first; t <= hi + step * 1e-9 || ticks.size() < 2; t += step)
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);  // no "-0" or 1e-17
  if (ticks.back() < hi) ticks.push_back(ticks.back() + step);
  return ticks;
}

std::string format_tick(double v) {
  char buf[32];
  const double a = std::fabs(v);
  if (a == 0) return "0";
  if (a >= 1e9)
    std::snprintf(buf, sizeof buf, "%gG", v / 1e9);
  else if (a >= 1e6)
    std::snprintf(buf, sizeof buf, "%gM", v / 1e6);
  else if (a >= 1e4)
    std::snprintf(buf, sizeof buf, "%gk", v / 1e3);
  else if (a < 1e-3)
    std::snprintf(buf, sizeof buf, "%.3g", v);
  else
    std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

const char* series_color(int i) {
  static const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                   "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
  constexpr int n = sizeof kPalette / sizeof kPalette[0];
  return kPalette[((i % n) + n) % n];
}

namespace {
std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}
}  // namespace

SvgCanvas::SvgCanvas(double width, double height) : width_(width), height_(height) {}

void SvgCanvas::rect(double x, double y, double w, double h, std::string_view fill,
                     std::string_view cls, std::string_view title) {
  body_ += "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(std::max(0.0, w)) +
           "\" height=\"" + num(std::max(0.0, h)) + "\" fill=\"" + html_escape(fill) + "\"";
  if (!cls.empty()) body_ += " class=\"" + html_escape(cls) + "\"";
  if (title.empty()) {
    body_ += "/>";
  } else {  // a native tooltip: no script needed
    body_ += "><title>" + html_escape(title) + "</title></rect>";
  }
  body_ += "\n";
}

void SvgCanvas::line(double x1, double y1, double x2, double y2, std::string_view stroke,
                     double stroke_width, std::string_view dash) {
  body_ += "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" +
           num(y2) + "\" stroke=\"" + html_escape(stroke) + "\" stroke-width=\"" +
           num(stroke_width) + "\"";
  if (!dash.empty()) body_ += " stroke-dasharray=\"" + html_escape(dash) + "\"";
  body_ += "/>\n";
}

void SvgCanvas::polyline(const std::vector<double>& x, const std::vector<double>& y,
                         std::string_view stroke, double stroke_width) {
  MART_CHECK(x.size() == y.size(), "SvgCanvas::polyline: ", x.size(), " x values but ", y.size(),
             " y values");
  body_ += "<polyline fill=\"none\" stroke=\"" + html_escape(stroke) + "\" stroke-width=\"" +
           num(stroke_width) + "\" stroke-linejoin=\"round\" points=\"";
  for (size_t i = 0; i < x.size(); ++i) {
    if (i) body_ += ' ';
    body_ += num(x[i]) + "," + num(y[i]);
  }
  body_ += "\"/>\n";
}

void SvgCanvas::text(double x, double y, std::string_view t, Anchor anchor, double size,
                     std::string_view fill) {
  static const char* kAnchor[] = {"start", "middle", "end"};
  body_ += "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" font-size=\"" + num(size) +
           "\" fill=\"" + html_escape(fill) + "\" text-anchor=\"" +
           kAnchor[static_cast<int>(anchor)] + "\">" + html_escape(t) + "</text>\n";
}

void SvgCanvas::begin_group(std::string_view attrs) {
  body_ += "<g " + std::string(attrs) + ">\n";
  ++open_groups_;
}

void SvgCanvas::end_group() {
  MART_CHECK(open_groups_ > 0, "SvgCanvas::end_group without begin_group");
  body_ += "</g>\n";
  --open_groups_;
}

void SvgCanvas::raw(std::string_view svg) {
  body_ += svg;
}

std::string SvgCanvas::str() const {
  MART_CHECK(open_groups_ == 0, "SvgCanvas: ", open_groups_, " group(s) left open");
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + num(width_) + " " +
         num(height_) + "\" style=\"width:100%;max-width:" + num(width_) + "px\">\n" + body_ +
         "</svg>\n";
}

}  // namespace mart
