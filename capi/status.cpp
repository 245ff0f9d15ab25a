// Status strings, the thread-local last error, version and string ownership.
#include <cstdlib>

#include "capi/capi_guard.h"

namespace mart::capi {
const char* last_error_text();
}

namespace {
#define MART_STR2(x) #x
#define MART_STR(x) MART_STR2(x)
constexpr const char* kVersion =
    MART_STR(MART_VERSION_MAJOR) "." MART_STR(MART_VERSION_MINOR) "." MART_STR(MART_VERSION_PATCH);
}  // namespace

extern "C" {

const char* mart_status_string(mart_status status) {
  switch (status) {
    case MART_OK:
      return "ok";
    case MART_ERR_INVALID_ARGUMENT:
      return "invalid argument";
    case MART_ERR_INVALID_HANDLE:
      return "invalid handle (NULL or destroyed)";
    case MART_ERR_CONFIG:
      return "invalid job config";
    case MART_ERR_IO:
      return "file error";
    case MART_ERR_OUT_OF_MEMORY:
      return "out of memory";
    case MART_ERR_BUSY:
      return "handle in use by another thread";
    case MART_ERR_NOT_FOUND:
      return "not found";
    case MART_ERR_NUMERIC:
      return "non-finite loss or gradient";
    case MART_ERR_INTERNAL:
      return "internal error";
    case MART_STATUS_RESERVED_:
      break;
  }
  return "unknown status";
}

const char* mart_last_error(void) {
  return mart::capi::last_error_text();
}

void mart_string_free(char* s) {
  std::free(s);
}

const char* mart_version(void) {
  return kVersion;
}

int mart_version_number(void) {
  return MART_VERSION_NUMBER;
}

}  // extern "C"
