#include "common/units.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/error.h"

namespace mart {

uint64_t parse_size(std::string_view text) {
  std::string s(text);
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  size_t start = i;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  MART_CHECK(i > start, "invalid size '", text, "': expected a number with an optional unit, ",
             "like 4096, 64MiB or 1.5GB");
  // strtod, not stod: a digits-and-dots run that is no number ("..5", "1.2.3") or overflows
  // must be a named error, not std::invalid_argument / std::out_of_range (found by fuzzing).
  const std::string number = s.substr(start, i - start);
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(number.c_str(), &end);
  MART_CHECK(end == number.c_str() + number.size() && errno != ERANGE, "invalid size '", text,
             "': '", number, "' is not a number; expected a number with an optional unit, ",
             "like 4096, 64MiB or 1.5GB");
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  std::string unit;
  for (; i < s.size(); ++i) {
    if (std::isspace(static_cast<unsigned char>(s[i]))) break;
    unit += static_cast<char>(std::tolower(static_cast<unsigned char>(s[i])));
  }
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  MART_CHECK(i == s.size(), "invalid size '", text, "': trailing characters");
  double mult = 1;
  if (unit.empty() || unit == "b")
    mult = 1;
  else if (unit == "kb")
    mult = 1e3;
  else if (unit == "mb")
    mult = 1e6;
  else if (unit == "gb")
    mult = 1e9;
  else if (unit == "tb")
    mult = 1e12;
  else if (unit == "k" || unit == "kib")
    mult = 1024.0;
  else if (unit == "m" || unit == "mib")
    mult = 1024.0 * 1024;
  else if (unit == "g" || unit == "gib")
    mult = 1024.0 * 1024 * 1024;
  else if (unit == "t" || unit == "tib")
    mult = 1024.0 * 1024 * 1024 * 1024;
  else
    MART_FAIL("invalid size '", text, "': unknown unit '", unit,
              "' (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)");
  double bytes = value * mult;
  MART_CHECK(bytes < 1.8e19, "invalid size '", text, "': too large");
  MART_CHECK(std::floor(bytes) == bytes, "invalid size '", text, "': not a whole number of bytes");
  return static_cast<uint64_t>(bytes);
}

std::string format_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else
    std::snprintf(buf, sizeof buf, "%.2f %s", v, units[u]);
  return buf;
}

}  // namespace mart
