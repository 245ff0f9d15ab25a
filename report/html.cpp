#include "report/html.h"

#include <cstdio>

#include "io/atomic_file.h"

namespace mart {

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

// One stylesheet for every MART page: system fonts only (no web fonts to fetch), readable on a
// laptop screen and when printed.
constexpr const char* kStyle = R"(
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       margin: 24px auto; max-width: 1100px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
section { margin-bottom: 18px; }
table { border-collapse: collapse; margin: 6px 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font: 12px ui-monospace, "DejaVu Sans Mono", monospace; }
pre { background: #f7f7f7; padding: 8px; overflow-x: auto; }
.muted { color: #777; }
svg { display: block; margin: 4px 0; }
svg text { font-family: system-ui, sans-serif; }
)";

}  // namespace

HtmlPage::HtmlPage(std::string title) : title_(std::move(title)) {}

void HtmlPage::add(std::string_view html) {
  body_ += html;
}

void HtmlPage::add_section(std::string_view id, std::string_view heading, std::string_view body) {
  body_ += "<section id=\"" + html_escape(id) + "\"><h2>" + html_escape(heading) + "</h2>\n";
  body_ += body;
  body_ += "</section>\n";
}

std::string HtmlPage::str() const {
  std::string s = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  s += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  s += "<title>" + html_escape(title_) + "</title>\n<style>" + kStyle + "</style></head>\n";
  s += "<body>\n" + body_ + "</body></html>\n";
  return s;
}

void HtmlPage::write(const std::string& path) const {
  const std::string s = str();
  write_file_atomic(path, s.data(), s.size());
}

std::string html_table(const std::vector<std::vector<std::string>>& rows) {
  std::string s = "<table>\n";
  for (size_t r = 0; r < rows.size(); ++r) {
    const char* cell = r == 0 ? "th" : "td";
    s += "<tr>";
    for (const std::string& c : rows[r])
      s += std::string("<") + cell + ">" + html_escape(c) + "</" + cell + ">";
    s += "</tr>\n";
  }
  return s + "</table>\n";
}

std::string format_fixed(double value, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, value);
  return buf;
}

}  // namespace mart
