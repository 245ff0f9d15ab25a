#include "common/error.h"

#include <cstring>

namespace mart {

[[noreturn]] void throw_error(const char* file, int line, const std::string& msg) {
  // Keep only the path below the source root: "memory/device_arena.cpp:42".
  const char* rel = file;
  for (const char* root : {"/kernels/", "/memory/", "/runtime/", "/profiler/", "/launcher/",
                           "/common/", "/tests/", "/bench/"}) {
    if (const char* p = std::strstr(file, root)) {
      rel = p + 1;
      break;
    }
  }
  throw Error(str(msg, " [", rel, ":", line, "]"));
}

}  // namespace mart
