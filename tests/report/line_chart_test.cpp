// report/line_chart.h: the DOM the browser test reads (one polyline per series, one point per data
// point), reference lines, markers, log scale.
#include "report/line_chart.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tests/report/report_test_util.h"

namespace mart {
namespace {

using reporttest::series_groups;
using testutil::has;

ChartSeries ramp(const std::string& run, int n, int color, double y0 = 1) {
  ChartSeries s{"loss", run, {}, {}, color, false};
  for (int i = 1; i <= n; ++i) {
    s.x.push_back(i);
    s.y.push_back(y0 + 0.5 * i);
  }
  return s;
}

TEST(LineChart, OnePolylineWithOnePointPerDataPointPerSeries) {
  LineChartSpec spec;
  spec.x_title = "step";
  spec.y_title = "loss";
  spec.series = {ramp("a", 3, 0), ramp("b", 7, 1)};
  const std::string svg = render_line_chart(spec);
  const auto groups = series_groups(svg);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].run, "a");
  EXPECT_EQ(groups[0].name, "loss");
  EXPECT_EQ(groups[0].polylines, 1);
  EXPECT_EQ(groups[0].points, 3);
  EXPECT_EQ(groups[1].run, "b");
  EXPECT_EQ(groups[1].polylines, 1);
  EXPECT_EQ(groups[1].points, 7);
  EXPECT_EQ(groups[0].markers, 0);  // markers off by default
  EXPECT_TRUE(has(svg, ">step</text>"));
  EXPECT_TRUE(has(svg, "class=\"legend\""));
  EXPECT_FALSE(has(svg, "class=\"reference\""));  // negative control for the next test
}

TEST(LineChart, ReferenceLineIsDrawnAndLabelled) {
  LineChartSpec spec;
  spec.series = {ramp("a", 4, 0)};
  spec.references = {{0.8, "corpus entropy rate 0.8000", -1}};
  const std::string svg = render_line_chart(spec);
  EXPECT_TRUE(has(svg, "<g class=\"reference\" data-name=\"corpus entropy rate 0.8000\">"));
  EXPECT_TRUE(has(svg, "stroke-dasharray"));
  EXPECT_TRUE(has(svg, ">corpus entropy rate 0.8000</text>"));
  // The reference is below every point, so the axis reaches down to it: a tick at or under 0.8.
  EXPECT_TRUE(has(svg, ">0.5</text>") || has(svg, ">0</text>"));
}

TEST(LineChart, OnePointSeriesGetsAVisibleMarker) {
  LineChartSpec spec;
  spec.series = {ramp("a", 1, 0), ramp("b", 5, 1)};
  const auto groups = series_groups(render_line_chart(spec));
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].points, 1);
  EXPECT_EQ(groups[0].markers, 1);
  EXPECT_EQ(groups[1].markers, 0);
  spec.series[1].markers = true;  // sparse series (validation loss) ask for markers
  EXPECT_EQ(series_groups(render_line_chart(spec))[1].markers, 5);
}

TEST(LineChart, EmptySeriesIsLeftOutAndNamedInTheLegend) {
  LineChartSpec spec;
  spec.series = {ramp("a", 3, 0), ramp("b", 0, 1)};
  const std::string svg = render_line_chart(spec);
  EXPECT_EQ(series_groups(svg).size(), 1u);
  EXPECT_TRUE(has(svg, "b (no data)"));
  spec.series = {ramp("b", 0, 1)};
  EXPECT_TRUE(has(render_line_chart(spec), ">no data</text>"));
}

TEST(LineChart, AutoScaleGoesLogOnlyForWideRanges) {
  LineChartSpec spec;
  spec.y_title = "gradient norm";
  spec.y_scale = YScale::Auto;
  ChartSeries wide{"grad_norm", "a", {1, 2, 3}, {0.01, 1, 100}, 0, false};
  spec.series = {wide};
  std::string svg = render_line_chart(spec);
  EXPECT_TRUE(has(svg, "gradient norm (log)"));
  EXPECT_TRUE(has(svg, ">0.01</text>"));  // decade ticks
  EXPECT_TRUE(has(svg, ">100</text>"));
  spec.series[0].y = {1, 2, 3};  // narrow: linear
  EXPECT_FALSE(has(render_line_chart(spec), "(log)"));
  spec.series[0].y = {0, 1, 100};  // a zero cannot go on a log axis
  EXPECT_FALSE(has(render_line_chart(spec), "(log)"));
  EXPECT_EQ(series_groups(render_line_chart(spec))[0].points, 3);
}

TEST(LineChart, YFromZeroIncludesZero) {
  LineChartSpec spec;
  spec.series = {{"m", "a", {1, 2}, {100, 110}, 0, false}};
  EXPECT_FALSE(has(render_line_chart(spec), ">0</text>"));
  spec.y_from_zero = true;
  EXPECT_TRUE(has(render_line_chart(spec), ">0</text>"));
}

TEST(LineChart, NamesAreEscapedAndBadInputRefused) {
  LineChartSpec spec;
  spec.series = {ramp("<run & \"x\">", 2, 0)};
  const std::string svg = render_line_chart(spec);
  EXPECT_TRUE(has(svg, "data-run=\"&lt;run &amp; &quot;x&quot;&gt;\""));
  EXPECT_FALSE(has(svg, "<run &"));
  spec.series[0].y[1] = std::nan("");
  EXPECT_THROW(render_line_chart(spec), Error);
  spec.series[0].y = {1};
  EXPECT_THROW(render_line_chart(spec), Error);
}

}  // namespace
}  // namespace mart
