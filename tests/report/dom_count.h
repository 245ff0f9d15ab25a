// Counting the DOM conventions of report/html.h in a rendered page, for the report tests.
#pragma once
#include <cstdint>
#include <regex>
#include <string>

namespace mart::test {

inline int count_of(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + what.size())) ++n;
  return n;
}

// The body of <g class="lane" data-name="NAME"> (lane groups hold no nested group); "" if absent.
inline std::string lane_body(const std::string& svg, const std::string& name) {
  const std::string open = "<g class=\"lane\" data-name=\"" + name + "\">";
  const size_t a = svg.find(open);
  if (a == std::string::npos) return "";
  return svg.substr(a, svg.find("</g>", a) - a);
}
inline int lane_spans(const std::string& svg, const std::string& name) {
  return count_of(lane_body(svg, name), "class=\"span\"");
}

// Sum of data-bytes over the bar segments whose name matches `name_regex`.
inline uint64_t segment_bytes(const std::string& html, const std::string& name_regex) {
  const std::regex re("class=\"bar-segment\" data-name=\"(" + name_regex +
                      ")\" data-bytes=\"(\\d+)\"");
  uint64_t sum = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), re); it != std::sregex_iterator();
       ++it)
    sum += std::stoull((*it)[2].str());
  return sum;
}

}  // namespace mart::test
