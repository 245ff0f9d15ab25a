#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "common/error.h"

namespace mart {

void FileSink::write(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    MART_CHECK(w > 0, "writing '", path_, "' failed after ", written_,
               " bytes: ", w < 0 ? std::strerror(errno) : "no progress",
               " (is the disk full or the filesystem read-only?)");
    p += w;
    n -= static_cast<size_t>(w);
    written_ += static_cast<uint64_t>(w);
  }
}

namespace {

// Makes the rename itself durable: without this, a crash right after rename() can lose the new
// directory entry on ext4/xfs even though the file data was fsync'ed.
void fsync_directory(const std::string& file_path) {
  std::string dir = std::filesystem::path(file_path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  MART_CHECK(fd >= 0, "wrote '", file_path, "' but cannot open its directory '", dir,
             "' to fsync it: ", std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  MART_CHECK(rc == 0, "wrote '", file_path, "' but fsync of directory '", dir,
             "' failed: ", std::strerror(err), " (the new file may not survive a crash)");
}

}  // namespace

void write_file_atomic(const std::string& path, const std::function<void(FileSink&)>& fill) {
  MART_CHECK(!path.empty(), "write_file_atomic: empty path");
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  MART_CHECK(fd >= 0, "cannot create temporary file '", tmp, "' for '", path,
             "': ", std::strerror(errno), " (does the directory exist and is it writable?)");
  try {
    FileSink sink(fd, path);
    fill(sink);
    MART_CHECK(::fsync(fd) == 0, "fsync of '", tmp, "' failed: ", std::strerror(errno));
    const int rc = ::close(fd);
    fd = -1;
    MART_CHECK(rc == 0, "closing '", tmp, "' failed: ", std::strerror(errno));
    MART_CHECK(::rename(tmp.c_str(), path.c_str()) == 0, "cannot rename '", tmp, "' to '", path,
               "': ", std::strerror(errno), " (is PATH a directory, or on another filesystem?)");
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  fsync_directory(path);
}

void write_file_atomic(const std::string& path, const void* data, size_t n) {
  write_file_atomic(path, [&](FileSink& sink) { sink.write(data, n); });
}

}  // namespace mart
