// A line chart as inline SVG: one or more series (a metric of one run each) over a shared x axis,
// with axes, nice ticks, axis titles, a legend of run names and optional horizontal reference lines
// (the corpus entropy rate, a --baseline loss, a planned device budget).
//
// DOM (report/html.h conventions, read by tests/browser/check_html.py):
//   <g class="series" data-name=METRIC data-run=RUN>  exactly one <polyline> with one "x,y" pair
//       per data point, in input order (+ <circle class="marker"> per point when markers are on,
//       and always for a one-point series, so it stays visible)
//   <g class="reference" data-name=LABEL>  one dashed <line> and its label
//   <g class="legend">  one swatch and run name per series
#pragma once
#include <string>
#include <vector>

namespace mart {

struct ChartSeries {
  std::string metric;  // data-name
  std::string run;     // data-run, and the legend text
  std::vector<double> x, y;
  int color = 0;         // series_color index (the run's index, so a run keeps its colour)
  bool markers = false;  // a dot on every point (sparse series such as validation loss)
};

struct ReferenceLine {
  double y = 0;
  std::string label;  // drawn at the line's right end
  int color = -1;     // series_color index; -1: grey
};

enum class YScale { Linear, Log, Auto };  // Auto: log when all y > 0 and max/min > 50

struct LineChartSpec {
  std::string x_title, y_title;
  std::vector<ChartSeries> series;
  std::vector<ReferenceLine> references;
  YScale y_scale = YScale::Linear;
  bool y_from_zero = false;  // linear axis includes 0 (memory, throughput: sizes read from 0)
  double width = 900, height = 300;
};

// The chart's <svg>. Series with no points are left out (and named in the legend as "no data");
// a chart without any point draws its frame and says "no data". Non-finite values are an error:
// run_files drops them before they get here.
std::string render_line_chart(const LineChartSpec& spec);

}  // namespace mart
