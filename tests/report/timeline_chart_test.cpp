// report/timeline_chart.h on a hand-built StepTimeline: one lane group per lane with spans, one
// span rectangle per span, tooltips, the minimum width, the shared time scale.
#include <gtest/gtest.h>

#include <regex>

#include "report/timeline_chart.h"
#include "tests/report/dom_count.h"

namespace mart {
namespace {

TimelineSpan span(TimelineLane lane, SpanKind kind, double t0, double t1, std::string label,
                  uint64_t bytes = 0) {
  TimelineSpan s;
  s.lane = lane;
  s.kind = kind;
  s.start_s = t0;
  s.end_s = t1;
  s.bytes = bytes;
  s.label = std::move(label);
  return s;
}

// 10 ms: three compute spans, two uploads (one 1 ns long), one CPU Adam; no D2H, no host.
StepTimeline hand_built() {
  StepTimeline t;
  t.source = "measured";
  t.device = "cpu";
  t.step = 3;
  t.duration_s = 0.010;
  t.spans = {span(TimelineLane::Compute, SpanKind::Forward, 0.000, 0.003, "forward block 0"),
             span(TimelineLane::Compute, SpanKind::Backward, 0.004, 0.008, "backward block 0"),
             span(TimelineLane::Compute, SpanKind::Optimizer, 0.008, 0.009, "device adam"),
             span(TimelineLane::H2D, SpanKind::Upload, 0.001, 0.002, "upload chunk 1", 48 << 20),
             span(TimelineLane::H2D, SpanKind::Upload, 0.005, 0.005 + 1e-9, "upload chunk 2", 64),
             span(TimelineLane::CpuAdam, SpanKind::Adam, 0.006, 0.010, "cpu adam chunk 1")};
  return t;
}

TEST(TimelineChart, OneLaneGroupPerLaneWithSpansAndOneRectPerSpan) {
  const std::string svg = render_timeline(hand_built());
  EXPECT_EQ(test::count_of(svg, "<g class=\"lane\""), 3);
  EXPECT_EQ(test::lane_spans(svg, "compute"), 3);
  EXPECT_EQ(test::lane_spans(svg, "h2d"), 2);
  EXPECT_EQ(test::lane_spans(svg, "cpu_adam"), 1);
  EXPECT_EQ(test::lane_body(svg, "d2h"), "");  // no spans: no lane
  EXPECT_EQ(test::lane_body(svg, "host"), "");
  EXPECT_EQ(test::count_of(svg, "class=\"span\""), 6);
  // Negative control: the counts see a span that is not there.
  StepTimeline fewer = hand_built();
  fewer.spans.pop_back();
  const std::string f = render_timeline(fewer);
  EXPECT_EQ(test::lane_body(f, "cpu_adam"), "");
  EXPECT_EQ(test::count_of(f, "class=\"span\""), 5);
}

TEST(TimelineChart, TooltipsLegendAndAxis) {
  const std::string svg = render_timeline(hand_built());
  EXPECT_NE(svg.find("<title>upload chunk 1\nstart 1.000 ms, duration 1.000 ms, 48.00 MiB</title>"),
            std::string::npos)
      << svg;
  EXPECT_NE(svg.find(">forward</text>"), std::string::npos);  // legend: kinds present
  EXPECT_NE(svg.find(">adam</text>"), std::string::npos);
  EXPECT_EQ(svg.find(">swap_in</text>"), std::string::npos);  // not present: not in the legend
  EXPECT_NE(svg.find("ms from the start of the iteration"), std::string::npos);
  EXPECT_NE(svg.find(">10</text>"), std::string::npos);  // the last tick, 10 ms
}

double rect_width(const std::string& svg, const std::string& label) {
  const std::regex re("width=\"([0-9.]+)\"[^>]*class=\"span\"><title>" + label);
  std::smatch m;
  return std::regex_search(svg, m, re) ? std::stod(m[1].str()) : -1;
}

TEST(TimelineChart, ThinSpansStayVisibleAndTheScaleIsShared) {
  TimelineChartOptions o;
  o.min_span_px = 2;
  const std::string svg = render_timeline(hand_built(), o);
  EXPECT_DOUBLE_EQ(rect_width(svg, "upload chunk 2"), 2.0);
  const double w = rect_width(svg, "forward block 0");
  EXPECT_GT(w, 100);
  // Twice the time scale: every span half as wide.
  o.time_scale_s = 0.020;
  const std::string wide = render_timeline(hand_built(), o);
  EXPECT_NEAR(rect_width(wide, "forward block 0"), w / 2, 0.02);
  EXPECT_NE(wide.find(">20</text>"), std::string::npos);
}

TEST(TimelineChart, EmptyTimelineSaysSo) {
  StepTimeline t;
  t.duration_s = 0.001;
  const std::string svg = render_timeline(t);
  EXPECT_EQ(test::count_of(svg, "<g class=\"lane\""), 0);
  EXPECT_NE(svg.find("no spans"), std::string::npos);
}

}  // namespace
}  // namespace mart
