#include "config/job_name.h"

#include <cstdint>
#include <cstdio>

#include "common/error.h"

namespace mart {
namespace {

// Byte offset of the first invalid UTF-8 sequence (overlong forms, surrogates and code points
// above U+10FFFF are invalid too), or npos when the whole string is valid.
size_t first_bad_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp, min_cp;
    if (b0 < 0x80) {
      ++i;
      continue;
    } else if ((b0 & 0xE0) == 0xC0) {
      len = 2, cp = b0 & 0x1F, min_cp = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
      len = 3, cp = b0 & 0x0F, min_cp = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
      len = 4, cp = b0 & 0x07, min_cp = 0x10000;
    } else {
      return i;
    }
    if (i + len > s.size()) return i;
    for (size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string::npos;
}

const char* kFix = "; use letters, digits, '-', '_' or '.' (e.g. name: gpt2-small)";

}  // namespace

std::string job_name_problem(const std::string& name) {
  if (name.empty()) return "name is empty: it names the run's outputs; give any short name";
  if (name.size() > kMaxJobNameBytes)
    return str("name is ", name.size(), " bytes long, above the limit of ", kMaxJobNameBytes,
               " bytes: it names the run directory; shorten it");
  if (size_t at = first_bad_utf8(name); at != std::string::npos) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned char>(name[at]));
    return str("name is not valid UTF-8 (byte ", hex, " at offset ", at,
               "): it names the run directory and is written into JSON outputs; save the config "
               "as UTF-8",
               kFix);
  }
  if (name == "." || name == "..")
    return str("name = '", name, "': names the runs/ folder itself or its parent", kFix);
  // Control characters first: the message must not echo them (a terminal would act on them).
  for (size_t i = 0; i < name.size(); ++i) {
    const auto ch = static_cast<unsigned char>(name[i]);
    if (ch < 0x20 || ch == 0x7f)
      return str("name contains the control character ", static_cast<int>(ch), " at offset ", i,
                 kFix);
  }
  for (char ch : name)
    if (ch == '/' || ch == '\\')
      return str("name = '", name, "' contains '", ch,
                 "': the name is one directory under runs/, so a path separator would place the "
                 "run elsewhere",
                 kFix);
  return "";
}

}  // namespace mart
