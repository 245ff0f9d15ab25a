#include "common/error.h"

#include "common/capacity_error.h"

#include <cstring>

namespace mart {

namespace {
// The message with the path below the source root: "... [memory/device_arena.cpp:42]".
std::string located(const char* file, int line, const std::string& msg) {
  const char* rel = file;
  for (const char* root : {"/kernels/", "/memory/", "/runtime/", "/profiler/", "/launcher/",
                           "/common/", "/tests/", "/bench/"}) {
    if (const char* p = std::strstr(file, root)) {
      rel = p + 1;
      break;
    }
  }
  return str(msg, " [", rel, ":", line, "]");
}
}  // namespace

[[noreturn]] void throw_error(const char* file, int line, const std::string& msg) {
  throw Error(located(file, line, msg));
}

[[noreturn]] void throw_capacity_error(const char* file, int line, const std::string& msg) {
  throw CapacityError(located(file, line, msg));
}

}  // namespace mart
