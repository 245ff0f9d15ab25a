// report/svg.h and report/html.h: tick arithmetic, escaping, well-formed output.
#include <gtest/gtest.h>

#include "report/html.h"
#include "report/svg.h"

namespace mart {
namespace {

TEST(NiceTicks, CoverTheRangeWithRoundSteps) {
  const std::vector<double> t = nice_ticks(0.13, 4.87, 5);
  ASSERT_GE(t.size(), 2u);
  EXPECT_LE(t.front(), 0.13);
  EXPECT_GE(t.back(), 4.87);
  EXPECT_DOUBLE_EQ(t[1] - t[0], 1.0);
  EXPECT_EQ(nice_ticks(0, 1e-3, 4)[1], 0.0005);
}

TEST(NiceTicks, OneValueIsWidened) {
  const std::vector<double> t = nice_ticks(3, 3);
  ASSERT_GE(t.size(), 2u);
  EXPECT_LT(t.front(), 3);
  EXPECT_GT(t.back(), 3);
}

TEST(FormatTick, ShortForms) {
  EXPECT_EQ(format_tick(0), "0");
  EXPECT_EQ(format_tick(2.5e6), "2.5M");
  EXPECT_EQ(format_tick(20000), "20k");
  EXPECT_EQ(format_tick(0.0003), "0.0003");
  EXPECT_EQ(format_tick(1.5), "1.5");
}

TEST(Html, EscapesTextAndAttributes) {
  EXPECT_EQ(html_escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
  HtmlPage p("loss < 2");
  p.add_section("s", "a & b", "<p>x</p>");
  const std::string s = p.str();
  EXPECT_NE(s.find("<title>loss &lt; 2</title>"), std::string::npos);
  EXPECT_NE(s.find("<section id=\"s\"><h2>a &amp; b</h2>"), std::string::npos);
}

TEST(Svg, PolylineHasOnePairPerPointAndGroupsMustClose) {
  SvgCanvas c(100, 50);
  c.begin_group(R"(class="series" data-name="loss")");
  c.polyline({0, 1, 2}, {5, 6, 7}, "#000");
  EXPECT_THROW(c.str(), std::exception);  // a group left open
  c.end_group();
  const std::string s = c.str();
  EXPECT_NE(s.find("points=\"0.00,5.00 1.00,6.00 2.00,7.00\""), std::string::npos);
  EXPECT_THROW(c.polyline({0, 1}, {0}, "#000"), std::exception);
}

}  // namespace
}  // namespace mart
