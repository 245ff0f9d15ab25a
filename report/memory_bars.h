// Stacked horizontal bars of memory against a budget, as inline SVG plus an HTML legend with the
// sizes: `mart plan --html` draws the device (the arena's regions against the device capacity)
// and the host (pinned regions, then pageable, against host memory, with the pinned limit
// marked). Each bar has its own scale (the larger of its total and its budget), the budget a
// dashed line; a bar over its budget shows by how much.
//
// DOM (report/html.h conventions): <g class="bar-segment" data-name="NAME" data-bytes="N"> per
// segment, with a <title> tooltip (label, size, share of the budget).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mart {

struct BarSegment {
  std::string name;   // stable id (data-name)
  std::string label;  // what a person reads
  uint64_t bytes = 0;
};

struct MemoryBar {
  std::string label;  // "device", "host"
  std::vector<BarSegment> segments;
  uint64_t total = 0;   // what the segments must add up to (e.g. the predicted device peak)
  uint64_t budget = 0;  // 0: none
  std::string budget_label;
  uint64_t marker = 0;  // a second, lower limit (e.g. pinned); 0 or >= budget: not drawn
  std::string marker_label;
};

// Throws mart::Error naming the bar when its segments do not add up to `total` exactly (a region
// left out or counted twice).
std::string render_memory_bars(const std::vector<MemoryBar>& bars, double width = 1060);

}  // namespace mart
