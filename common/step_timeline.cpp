#include "common/step_timeline.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "nlohmann/json.hpp"

namespace mart {
namespace {

// Trait tables: the JSON names, indexed by the enum's value.
constexpr const char* kLaneNames[kTimelineLanes] = {"compute", "h2d", "d2h", "cpu_adam", "host"};
constexpr const char* kKindNames[kSpanKinds] = {"forward",   "backward", "recompute", "head",
                                                "optimizer", "upload",   "offload",   "swap_out",
                                                "swap_in",   "adam",     "sync",      "other"};

template <class Enum, int N>
bool parse_name(const char* const (&names)[N], const std::string& name, Enum* out) {
  for (int i = 0; i < N; ++i)
    if (name == names[i]) {
      *out = static_cast<Enum>(i);
      return true;
    }
  return false;
}

// The field `key` of object `j` as T; the error names where, the path and what was wrong.
template <class T>
T field(const nlohmann::json& j, const char* key, const std::string& path) {
  if (!j.is_object() || !j.contains(key)) MART_FAIL(path, ": missing field \"", key, "\"");
  const nlohmann::json& v = j[key];
  if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) MART_FAIL(path, ".", key, ": expected a string, got ", v.dump());
    return v.get<std::string>();
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number() || !std::isfinite(v.get<double>()))
      MART_FAIL(path, ".", key, ": expected a finite number, got ", v.dump());
    return v.get<T>();
  } else {
    if (!v.is_number_integer()) MART_FAIL(path, ".", key, ": expected an integer, got ", v.dump());
    return v.get<T>();
  }
}

TimelineSpan span_from_json(const nlohmann::json& j, const std::string& path) {
  TimelineSpan s;
  const std::string lane = field<std::string>(j, "lane", path);
  MART_CHECK(parse_lane(lane, &s.lane), path, ".lane: unknown lane \"", lane,
             "\" (compute, h2d, d2h, cpu_adam, host)");
  const std::string kind = field<std::string>(j, "kind", path);
  MART_CHECK(parse_span_kind(kind, &s.kind), path, ".kind: unknown kind \"", kind, "\"");
  s.start_s = field<double>(j, "start_s", path);
  s.end_s = field<double>(j, "end_s", path);
  MART_CHECK(s.start_s >= 0 && s.end_s >= s.start_s, path, ": start_s ", s.start_s, " and end_s ",
             s.end_s, " must satisfy 0 <= start_s <= end_s");
  if (j.contains("block")) s.block = field<int>(j, "block", path);
  if (j.contains("chunk")) s.chunk = field<int>(j, "chunk", path);
  if (j.contains("bytes")) {
    const int64_t b = field<int64_t>(j, "bytes", path);
    MART_CHECK(b >= 0, path, ".bytes: ", b, " is negative");
    s.bytes = static_cast<uint64_t>(b);
  }
  if (j.contains("label")) s.label = field<std::string>(j, "label", path);
  return s;
}

}  // namespace

const char* lane_name(TimelineLane lane) {
  return kLaneNames[static_cast<int>(lane)];
}
const char* span_kind_name(SpanKind kind) {
  return kKindNames[static_cast<int>(kind)];
}
bool parse_lane(const std::string& name, TimelineLane* lane) {
  return parse_name(kLaneNames, name, lane);
}
bool parse_span_kind(const std::string& name, SpanKind* kind) {
  return parse_name(kKindNames, name, kind);
}

double StepTimeline::busy_s(TimelineLane lane) const {
  std::vector<std::pair<double, double>> iv;
  for (const TimelineSpan& s : spans)
    if (s.lane == lane) iv.emplace_back(s.start_s, s.end_s);
  std::sort(iv.begin(), iv.end());
  double busy = 0, cur_start = 0, cur_end = -1;
  for (const auto& [a, b] : iv) {
    if (a > cur_end) {  // a new union interval starts
      if (cur_end > cur_start) busy += cur_end - cur_start;
      cur_start = a;
      cur_end = b;
    } else {
      cur_end = std::max(cur_end, b);
    }
  }
  if (cur_end > cur_start) busy += cur_end - cur_start;
  return busy;
}

nlohmann::json timeline_to_json(const StepTimeline& t) {
  nlohmann::json spans = nlohmann::json::array();
  for (const TimelineSpan& s : t.spans)
    spans.push_back({{"lane", lane_name(s.lane)},
                     {"kind", span_kind_name(s.kind)},
                     {"start_s", s.start_s},
                     {"end_s", s.end_s},
                     {"block", s.block},
                     {"chunk", s.chunk},
                     {"bytes", s.bytes},
                     {"label", s.label}});
  return {{"format", "mart-timeline-1"}, {"source", t.source},
          {"device", t.device},          {"step", t.step},
          {"duration_s", t.duration_s},  {"spans", spans}};
}

StepTimeline timeline_from_json(const nlohmann::json& j, const std::string& where) {
  MART_CHECK(j.is_object(), where, ": expected a JSON object (a MART timeline)");
  const std::string format = field<std::string>(j, "format", where);
  MART_CHECK(format == "mart-timeline-1", where, ": format \"", format,
             "\" is not \"mart-timeline-1\" (written by a different MART version?)");
  StepTimeline t;
  t.source = field<std::string>(j, "source", where);
  MART_CHECK(t.source == "measured" || t.source == "simulated", where, ".source: \"", t.source,
             "\" is neither \"measured\" nor \"simulated\"");
  if (j.contains("device")) t.device = field<std::string>(j, "device", where);
  if (j.contains("step")) t.step = field<int>(j, "step", where);
  t.duration_s = field<double>(j, "duration_s", where);
  MART_CHECK(t.duration_s >= 0, where, ".duration_s: ", t.duration_s, " is negative");
  MART_CHECK(j.contains("spans") && j["spans"].is_array(), where, ": missing the \"spans\" array");
  const nlohmann::json& spans = j["spans"];
  for (size_t i = 0; i < spans.size(); ++i) {
    TimelineSpan s = span_from_json(spans[i], str(where, ": spans[", i, "]"));
    MART_CHECK(s.end_s <= t.duration_s * (1 + 1e-9) + 1e-12, where, ": spans[", i, "] ends at ",
               s.end_s, " s, after the iteration's duration_s ", t.duration_s);
    t.spans.push_back(std::move(s));
  }
  return t;
}

}  // namespace mart
