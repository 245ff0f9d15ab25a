// Self-contained HTML pages for `mart report` and `mart plan --html`: one file, no network, no
// external scripts, styles or fonts (inline CSS, inline SVG), so a report opens anywhere and can
// be mailed or archived with the run.
//
// The page conventions the browser tests (tests/browser/check_html.py) read:
//   <section id="...">           one per part of the page (a chart, a table), with an <h2>
//   <g class="series" data-name="NAME" data-run="RUN">  one plotted series; its <polyline> holds
//                                one "x,y" pair per data point (no other polyline inside)
//   <g class="lane" data-name="NAME">  one timeline lane; each <rect class="span"> is one span
//   <g class="bar-segment" data-name="NAME" data-bytes="N">  one stacked-bar segment
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace mart {

// Escapes &, <, >, " and ' for text and attribute values.
std::string html_escape(std::string_view text);

// An HTML document assembled from sections, then written in one piece.
class HtmlPage {
 public:
  explicit HtmlPage(std::string title);
  // Appends raw HTML (the caller escapes what it interpolates).
  void add(std::string_view html);
  // Appends <section id="id"><h2>heading</h2>body</section>; heading is escaped, body is not.
  void add_section(std::string_view id, std::string_view heading, std::string_view body);
  // The complete document: doctype, <meta charset>, the inline stylesheet, the body.
  std::string str() const;
  // Writes str() to `path` atomically (io/atomic_file.h); throws mart::Error naming the path.
  void write(const std::string& path) const;

 private:
  std::string title_;
  std::string body_;
};

// A table cell's number with `digits` decimals ("%.*f"): 1.5, 2 -> "1.50".
std::string format_fixed(double value, int digits);

// <table> from rows of cells; the first row is the header. Cells are escaped.
std::string html_table(const std::vector<std::vector<std::string>>& rows);

}  // namespace mart
