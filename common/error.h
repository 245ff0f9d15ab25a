// Errors: one exception type that says what went wrong, where, and (when known) how to fix it.
// Every layer throws mart::Error; the launcher prints it, the C API turns it into a status code.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace mart {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

namespace detail {
inline void format_into(std::ostringstream&) {}
template <class T, class... Rest>
void format_into(std::ostringstream& os, const T& v, const Rest&... rest) {
  os << v;
  format_into(os, rest...);
}
}  // namespace detail

// Concatenates its arguments with operator<< into a string.
template <class... Args>
std::string str(const Args&... args) {
  std::ostringstream os;
  detail::format_into(os, args...);
  return os.str();
}

[[noreturn]] void throw_error(const char* file, int line, const std::string& msg);

}  // namespace mart

// MART_CHECK(cond, parts...): throws mart::Error "file:line: parts..." when cond is false.
// The message should name the bad thing and, where possible, the fix.
#define MART_CHECK(cond, ...)                                                       \
  do {                                                                              \
    if (!(cond)) ::mart::throw_error(__FILE__, __LINE__, ::mart::str(__VA_ARGS__)); \
  } while (0)

#define MART_FAIL(...) ::mart::throw_error(__FILE__, __LINE__, ::mart::str(__VA_ARGS__))
