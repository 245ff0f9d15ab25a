// One iteration's timeline (common/step_timeline.h) as inline SVG: a row per lane that has spans
// (compute, h2d, d2h, cpu_adam, host, in that order; the lane's name at the left), a rectangle per
// span coloured by its kind, a legend of the kinds present, and a time axis in milliseconds.
// Drawn the same for a simulated timeline (`mart plan --html`) and a measured one (RUN/
// timeline.json: `mart plan --measured`, `mart report`); give both the same time_scale_s to
// compare them.
//
// DOM (report/html.h conventions): <g class="lane" data-name="compute"> holds one
// <rect class="span"> per span, whose <title> tooltip gives the label, start, duration and bytes.
// A span narrower than min_span_px is drawn min_span_px wide so a short copy stays visible.
#pragma once
#include <string>

#include "common/step_timeline.h"

namespace mart {

struct TimelineChartOptions {
  double time_scale_s = 0;  // the axis covers [0, time_scale_s]; 0: the timeline's duration
  double width = 1060;      // SVG user units
  double min_span_px = 1.5;
  bool legend = true;
};

// The fill of a span kind (the same in every chart and legend).
const char* span_kind_color(SpanKind kind);

std::string render_timeline(const StepTimeline& t, const TimelineChartOptions& opt = {});

// Reads and checks a timeline file (RUN/timeline.json); throws mart::Error naming the path and,
// for a damaged file, what is wrong with it (never the JSON library's own message).
StepTimeline load_timeline_file(const std::string& path);

}  // namespace mart
