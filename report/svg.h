// A small SVG writer and the axis arithmetic the charts share (report/charts.h draws with it).
// Coordinates are SVG user units (pixels at 100% zoom), origin top-left.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace mart {

// Round tick values covering [lo, hi]: about `target` ticks at a step of 1, 2 or 5 x 10^k, the
// first <= lo and the last >= hi. lo == hi widens the range so the result is never empty.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

// A tick label: the shortest of "%g"-style forms that tells neighbouring ticks apart
// (0.0003 -> "3e-4", 1500 -> "1500", 2.5e6 -> "2.5M").
std::string format_tick(double value);

// A categorical colour for series i (cycles through a palette readable on white).
const char* series_color(int i);

class SvgCanvas {
 public:
  SvgCanvas(double width, double height);
  double width() const { return width_; }
  double height() const { return height_; }

  // Elements. `cls` becomes the class attribute when non-empty; text is escaped.
  void rect(double x, double y, double w, double h, std::string_view fill,
            std::string_view cls = {}, std::string_view title = {});
  void line(double x1, double y1, double x2, double y2, std::string_view stroke,
            double stroke_width = 1, std::string_view dash = {});
  // One polyline through the points (x[i], y[i]); the caller wraps it in a series group.
  void polyline(const std::vector<double>& x, const std::vector<double>& y, std::string_view stroke,
                double stroke_width = 1.5);
  enum class Anchor { Start, Middle, End };
  void text(double x, double y, std::string_view text, Anchor anchor = Anchor::Start,
            double size = 11, std::string_view fill = "#333");
  // <g ...attrs> ... </g>: attrs is raw (e.g. R"(class="series" data-name="loss")"), built
  // with html_escape for values.
  void begin_group(std::string_view attrs);
  void end_group();
  void raw(std::string_view svg);

  // The <svg> element with a viewBox, width 100% up to `width` (scales on narrow windows).
  std::string str() const;

 private:
  double width_, height_;
  std::string body_;
  int open_groups_ = 0;
};

}  // namespace mart
