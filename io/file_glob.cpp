#include "io/file_glob.h"

#include <errno.h>
#include <glob.h>

#include <algorithm>

#include "common/error.h"

namespace mart {

namespace {

// A directory that does not exist simply has no matches; any other read error aborts the walk.
int glob_error(const char*, int err) {
  return err == ENOENT || err == ENOTDIR ? 0 : 1;
}

}  // namespace

std::vector<std::string> expand_glob(const std::string& pattern) {
  MART_CHECK(!pattern.empty(), "empty file pattern; set data.train_pattern (e.g. 'data/tiny.bin')");
  glob_t g{};
  const int rc = ::glob(pattern.c_str(), 0, glob_error, &g);
  std::vector<std::string> out;
  if (rc == 0)
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  ::globfree(&g);
  MART_CHECK(rc != GLOB_NOSPACE, "out of memory expanding pattern '", pattern, "'");
  MART_CHECK(rc != GLOB_ABORTED, "cannot read a directory while expanding pattern '", pattern,
             "' (check permissions)");
  MART_CHECK(rc == 0 && !out.empty(), "pattern '", pattern,
             "' matches no files; check the path (relative paths resolve from the working "
             "directory) or run prepare_data first");
  // glob sorts by the locale's collation; re-sort bytewise so order never depends on LC_COLLATE.
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace mart
