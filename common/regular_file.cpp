#include "common/regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "common/error.h"

namespace mart {
namespace {

const char* kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO (named pipe), which could block forever";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "a special file";
}

[[noreturn]] void not_regular(const std::string& path, const std::string& what, mode_t m) {
  throw Error(str(what, " '", path, "' is not a regular file but ", kind_of(m),
                  "; give the path of a regular file"));
}

}  // namespace

bool is_regular_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

int open_regular_file(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw Error(str("cannot open ", what, " '", path, "': ", std::strerror(errno),
                    " (check the path and that the file exists and is readable)"));
  if (!S_ISREG(st.st_mode)) not_regular(path, what, st.st_mode);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    throw Error(str("cannot open ", what, " '", path, "': ", std::strerror(errno),
                    " (check that the file is readable)"));
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const mode_t m = st.st_mode;
    ::close(fd);
    not_regular(path, what, m);
  }
  // Regular files ignore O_NONBLOCK, but clear it so the descriptor behaves as a plain open().
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

std::string read_regular_file(const std::string& path, const std::string& what, size_t max_bytes) {
  const int fd = open_regular_file(path, what);
  struct stat st {};
  if (::fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    throw Error(str(what, " '", path, "' has ", st.st_size, " bytes, more than the ", max_bytes,
                    " a ", what, " may have; is this the right file?"));
  }
  std::string out;
  char buf[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw Error(str("cannot read ", what, " '", path, "': ", std::strerror(err)));
    }
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {  // grew while being read
      ::close(fd);
      throw Error(str(what, " '", path, "' has more than ", max_bytes, " bytes"));
    }
  }
  ::close(fd);
  return out;
}

}  // namespace mart
