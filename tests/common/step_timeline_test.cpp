// StepTimeline: JSON round trip, the checks on bad input (each names the field), busy_s.
#include "common/step_timeline.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "nlohmann/json.hpp"

namespace mart {
namespace {

StepTimeline sample() {
  StepTimeline t;
  t.source = "measured";
  t.device = "cpu";
  t.step = 2;
  t.duration_s = 1.0;
  t.spans.push_back({TimelineLane::Compute, SpanKind::Forward, 0.0, 0.3, 0, -1, 0, "forward 0"});
  t.spans.push_back({TimelineLane::H2D, SpanKind::Upload, 0.1, 0.2, -1, 3, 4096, "upload 3"});
  t.spans.push_back({TimelineLane::Compute, SpanKind::Backward, 0.2, 0.5, 0, -1, 0, "backward"});
  t.spans.push_back({TimelineLane::Compute, SpanKind::Head, 0.7, 0.9, -1, -1, 0, ""});
  return t;
}

std::string error_of(const nlohmann::json& j) {
  try {
    timeline_from_json(j, "timeline.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(StepTimeline, JsonRoundTrip) {
  const StepTimeline t = sample();
  const nlohmann::json j = timeline_to_json(t);
  EXPECT_EQ(j["format"], "mart-timeline-1");
  EXPECT_EQ(j["spans"][1]["lane"], "h2d");
  EXPECT_EQ(j["spans"][1]["kind"], "upload");
  const StepTimeline back = timeline_from_json(nlohmann::json::parse(j.dump()), "t.json");
  ASSERT_EQ(back.spans.size(), t.spans.size());
  EXPECT_EQ(back.step, 2);
  EXPECT_EQ(back.device, "cpu");
  for (size_t i = 0; i < t.spans.size(); ++i) {
    EXPECT_EQ(back.spans[i].lane, t.spans[i].lane);
    EXPECT_EQ(back.spans[i].kind, t.spans[i].kind);
    EXPECT_EQ(back.spans[i].start_s, t.spans[i].start_s);
    EXPECT_EQ(back.spans[i].end_s, t.spans[i].end_s);
    EXPECT_EQ(back.spans[i].chunk, t.spans[i].chunk);
    EXPECT_EQ(back.spans[i].bytes, t.spans[i].bytes);
    EXPECT_EQ(back.spans[i].label, t.spans[i].label);
  }
}

TEST(StepTimeline, NamesRoundTrip) {
  for (int i = 0; i < kTimelineLanes; ++i) {
    TimelineLane lane;
    ASSERT_TRUE(parse_lane(lane_name(static_cast<TimelineLane>(i)), &lane));
    EXPECT_EQ(static_cast<int>(lane), i);
  }
  for (int i = 0; i < kSpanKinds; ++i) {
    SpanKind kind;
    ASSERT_TRUE(parse_span_kind(span_kind_name(static_cast<SpanKind>(i)), &kind));
    EXPECT_EQ(static_cast<int>(kind), i);
  }
  TimelineLane lane;
  EXPECT_FALSE(parse_lane("gpu", &lane));
}

TEST(StepTimeline, BusyCountsOverlapOnce) {
  const StepTimeline t = sample();
  // compute: [0, 0.3] U [0.2, 0.5] U [0.7, 0.9] = 0.5 + 0.2
  EXPECT_NEAR(t.busy_s(TimelineLane::Compute), 0.7, 1e-12);
  EXPECT_NEAR(t.busy_s(TimelineLane::H2D), 0.1, 1e-12);
  EXPECT_EQ(t.busy_s(TimelineLane::D2H), 0.0);
}

TEST(StepTimeline, BadInputNamesTheField) {
  nlohmann::json good = timeline_to_json(sample());
  EXPECT_EQ(error_of(good), "");

  nlohmann::json j = good;
  j["spans"][2]["lane"] = "gpu";
  {
    const std::string e = error_of(j);
    EXPECT_NE(e.find("spans[2].lane: unknown lane \"gpu\""), std::string::npos) << e;
  }
  j = good;
  j["spans"][0]["end_s"] = 5.0;  // past duration_s
  EXPECT_NE(error_of(j).find("after the iteration's duration_s"), std::string::npos);
  j = good;
  j["spans"][1]["start_s"] = 0.5;  // after its end
  EXPECT_NE(error_of(j).find("spans[1]: start_s"), std::string::npos);
  j = good;
  j["format"] = "other";
  EXPECT_NE(error_of(j).find("format \"other\""), std::string::npos);
  j = good;
  j.erase("duration_s");
  EXPECT_NE(error_of(j).find("missing field \"duration_s\""), std::string::npos);
  j = good;
  j["spans"][3]["kind"] = 7;
  EXPECT_NE(error_of(j).find("spans[3].kind: expected a string"), std::string::npos);
  EXPECT_NE(error_of(nlohmann::json::array()).find("expected a JSON object"), std::string::npos);
}

}  // namespace
}  // namespace mart
