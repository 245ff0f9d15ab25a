// The job name's rules. The name becomes a directory (runs/<name>) and appears in every output,
// so it is checked when the config is loaded, not at the first checkpoint after hours of training:
// valid UTF-8, 1..kMaxJobNameBytes bytes, no '/', '\\' or control characters (so it can never
// name a path outside runs/), and not "." or "..".
#pragma once
#include <cstddef>
#include <string>

namespace mart {

inline constexpr size_t kMaxJobNameBytes = 128;

// "" when `name` is fine, else a message starting "name = ..." saying what is wrong and the fix.
std::string job_name_problem(const std::string& name);

}  // namespace mart
