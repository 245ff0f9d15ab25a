#include "io/append_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"

namespace mart {

AppendFile::AppendFile(std::string path, WriteFn write_fn)
    : path_(std::move(path)), write_(std::move(write_fn)) {
  if (!write_) write_ = [](int fd, const void* p, size_t n) { return ::write(fd, p, n); };
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  MART_CHECK(fd_ >= 0, "cannot open '", path_, "' for appending: ", std::strerror(errno),
             " (is the run directory writable?)");
}

AppendFile::~AppendFile() {
  if (fd_ >= 0) ::close(fd_);
}

void AppendFile::append(std::string_view bytes) {
  const char* p = bytes.data();
  size_t n = bytes.size();
  while (n > 0) {
    const ssize_t w = write_(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    MART_CHECK(w > 0, "cannot write '", path_,
               "': ", w < 0 ? std::strerror(errno) : "no progress (write returned 0)",
               " (is the disk full, the file too large for a limit, or the filesystem "
               "read-only?)");
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void AppendFile::sync() {
  MART_CHECK(::fdatasync(fd_) == 0, "cannot write '", path_,
             "' to disk (fdatasync): ", std::strerror(errno), " (is the disk full?)");
}

}  // namespace mart
