// report/memory_bars.h: one bar-segment group per segment with its bytes, the budget and the
// overflow, and the sum check (negative control: a segment left out is refused).
#include <gtest/gtest.h>

#include "common/error.h"
#include "report/memory_bars.h"
#include "tests/report/dom_count.h"

namespace mart {
namespace {

MemoryBar device_bar() {
  MemoryBar b;
  b.label = "device";
  b.segments = {{"chunks", "resident chunks", 600},
                {"acts", "kept activations", 300},
                {"scratch", "scratch", 100}};
  b.total = 1000;
  b.budget = 1200;
  b.budget_label = "device budget";
  return b;
}

TEST(MemoryBars, OneSegmentGroupPerSegmentSummingToTheTotal) {
  const std::string s = render_memory_bars({device_bar()});
  EXPECT_EQ(test::count_of(s, "class=\"bar-segment\""), 3);
  EXPECT_EQ(test::segment_bytes(s, "[a-z_]+"), 1000u);
  EXPECT_EQ(test::segment_bytes(s, "acts"), 300u);
  EXPECT_NE(s.find("kept activations\n300 B (25.0% of device budget)"), std::string::npos) << s;
  EXPECT_NE(s.find("device budget 1.17 KiB"), std::string::npos);
  EXPECT_EQ(s.find("over by"), std::string::npos);
}

TEST(MemoryBars, ASegmentLeftOutIsRefused) {
  MemoryBar b = device_bar();
  b.segments.erase(b.segments.begin() + 1);  // total still 1000
  try {
    render_memory_bars({b});
    FAIL() << "a bar whose segments miss 300 bytes was drawn";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"device\": its segments add up to 700"),
              std::string::npos)
        << e.what();
  }
}

TEST(MemoryBars, OverTheBudgetSaysByHowMuch) {
  MemoryBar b = device_bar();
  b.budget = 800;
  const std::string s = render_memory_bars({b});
  EXPECT_NE(s.find("over by 200 B"), std::string::npos) << s;
}

TEST(MemoryBars, ALowerLimitIsMarkedAndAnEqualOneIsNot) {
  MemoryBar b = device_bar();
  b.marker = 900;
  b.marker_label = "pinned limit";
  EXPECT_NE(render_memory_bars({b}).find(">pinned limit 900 B</text>"), std::string::npos);
  b.marker = b.budget;
  EXPECT_EQ(render_memory_bars({b}).find("pinned limit"), std::string::npos);
}

}  // namespace
}  // namespace mart
