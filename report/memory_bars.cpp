#include "report/memory_bars.h"

#include <algorithm>
#include <cstdio>

#include "common/error.h"
#include "common/units.h"
#include "report/html.h"
#include "report/svg.h"

namespace mart {
namespace {

constexpr double kLeft = 78, kRight = 12, kBarH = 26, kRowH = 62;

// Segment fills: 20 distinguishable colours (a bar rarely has more regions).
const char* segment_color(size_t i) {
  static const char* kPalette[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
                                   "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
                                   "#a0cbe8", "#ffbe7d", "#8cd17d", "#ff9d9a", "#86bcb6",
                                   "#f1ce63", "#d4a6c8", "#fabfd2", "#d7b5a6", "#79706e"};
  return kPalette[i % (sizeof kPalette / sizeof kPalette[0])];
}

std::string pct(uint64_t part, uint64_t whole) {
  if (!whole) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * static_cast<double>(part) / whole);
  return buf;
}

void check_sum(const MemoryBar& b) {
  uint64_t sum = 0;
  for (const BarSegment& s : b.segments) sum += s.bytes;
  MART_CHECK(sum == b.total, "memory bar \"", b.label, "\": its segments add up to ", sum,
             " bytes but the total is ", b.total,
             " (a region left out or counted twice; report/memory_bars.h)");
}

void draw_bar(SvgCanvas& c, const MemoryBar& b, double y, double plot_w) {
  const double domain = static_cast<double>(std::max({b.total, b.budget, uint64_t{1}})) * 1.04;
  auto x_of = [&](uint64_t v) { return kLeft + static_cast<double>(v) / domain * plot_w; };
  c.text(kLeft - 6, y + kBarH * 0.65, b.label, SvgCanvas::Anchor::End, 12);
  uint64_t at = 0;
  for (size_t i = 0; i < b.segments.size(); ++i) {
    const BarSegment& s = b.segments[i];
    c.begin_group("class=\"bar-segment\" data-name=\"" + html_escape(s.name) + "\" data-bytes=\"" +
                  std::to_string(s.bytes) + "\"");
    std::string tip = s.label + "\n" + format_bytes(s.bytes);
    if (b.budget) tip += " (" + pct(s.bytes, b.budget) + " of " + b.budget_label + ")";
    c.rect(x_of(at), y, std::max(0.5, x_of(at + s.bytes) - x_of(at)), kBarH, segment_color(i), "",
           tip);
    c.end_group();
    at += s.bytes;
  }
  std::string caption = format_bytes(b.total);
  if (b.budget) {
    const double xb = x_of(b.budget);
    c.line(xb, y - 6, xb, y + kBarH + 6, "#222", 1.5, "4 3");
    c.text(xb, y - 8, b.budget_label + " " + format_bytes(b.budget), SvgCanvas::Anchor::End, 10);
    caption += " of " + format_bytes(b.budget) + " (" + pct(b.total, b.budget) + ")";
    if (b.total > b.budget) {
      c.rect(xb, y + kBarH + 2, x_of(b.total) - xb, 4, "#d62728", "", "over budget");
      caption += ": over by " + format_bytes(b.total - b.budget);
    }
  }
  if (b.marker && (!b.budget || b.marker < b.budget)) {  // a limit equal to the budget: not drawn
    const double xm = x_of(b.marker);
    c.line(xm, y - 4, xm, y + kBarH + 4, "#d62728", 1.2, "2 2");
    c.text(xm - 3, y + kBarH + 14, b.marker_label + " " + format_bytes(b.marker),
           SvgCanvas::Anchor::End, 10, "#d62728");
  }
  c.text(kLeft, y + kBarH + 26, caption, SvgCanvas::Anchor::Start, 11,
         b.total > b.budget && b.budget ? "#d62728" : "#333");
}

// The sizes, one row per segment, with the bar's colour swatch.
std::string legend(const MemoryBar& b) {
  std::string s = "<table class=\"legend\">\n<tr><th></th><th>" + html_escape(b.label) +
                  " region</th><th>bytes</th><th>size</th>";
  if (b.budget) s += "<th>of " + html_escape(b.budget_label) + "</th>";
  s += "</tr>\n";
  for (size_t i = 0; i < b.segments.size(); ++i) {
    const BarSegment& g = b.segments[i];
    s += "<tr><td><span style=\"display:inline-block;width:12px;height:12px;background:" +
         std::string(segment_color(i)) + "\"></span></td><td>" + html_escape(g.label) +
         "</td><td class=\"num\">" + std::to_string(g.bytes) + "</td><td class=\"num\">" +
         html_escape(format_bytes(g.bytes)) + "</td>";
    if (b.budget) s += "<td class=\"num\">" + pct(g.bytes, b.budget) + "</td>";
    s += "</tr>\n";
  }
  s += "<tr><th></th><th>total</th><th class=\"num\">" + std::to_string(b.total) +
       "</th><th class=\"num\">" + html_escape(format_bytes(b.total)) + "</th>";
  if (b.budget) s += "<th class=\"num\">" + pct(b.total, b.budget) + "</th>";
  return s + "</tr>\n</table>\n";
}

}  // namespace

std::string render_memory_bars(const std::vector<MemoryBar>& bars, double width) {
  for (const MemoryBar& b : bars) check_sum(b);
  SvgCanvas c(width, 14 + kRowH * static_cast<double>(bars.size()));
  for (size_t i = 0; i < bars.size(); ++i)
    draw_bar(c, bars[i], 20 + kRowH * i, width - kLeft - kRight);
  std::string s = c.str();
  for (const MemoryBar& b : bars) s += legend(b);
  return s;
}

}  // namespace mart
