#include "runtime/checkpoint/checkpoint_fs.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "common/error.h"

namespace fs = std::filesystem;

namespace mart::ckpt_fs {
namespace {

const char* kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO (named pipe)";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

void check_mode(const struct stat& st, const std::string& path, const std::string& what) {
  MART_CHECK(S_ISREG(st.st_mode), what, " '", path, "' is ", kind_of(st.st_mode),
             ", not a regular file; replace it with the file it should be");
}

}  // namespace

void require_regular_file(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    MART_CHECK(err != ENOENT && err != ENOTDIR, what, " '", path, "' is missing");
    MART_FAIL("cannot stat ", what, " '", path, "': ", std::strerror(err));
  }
  check_mode(st, path, what);
}

uint64_t regular_file_size(const std::string& path, const std::string& what) {
  require_regular_file(path, what);
  struct stat st {};
  MART_CHECK(::stat(path.c_str(), &st) == 0, "cannot stat ", what, " '", path,
             "': ", std::strerror(errno));
  return static_cast<uint64_t>(st.st_size);
}

std::string read_small_file(const std::string& path, const std::string& what, uint64_t max_bytes) {
  require_regular_file(path, what);
  // O_NONBLOCK: if the path became a FIFO since the stat, open returns instead of waiting for a
  // writer; fstat then refuses it.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  MART_CHECK(fd >= 0, "cannot open ", what, " '", path, "': ", std::strerror(errno));
  std::string out;
  try {
    struct stat st {};
    MART_CHECK(::fstat(fd, &st) == 0, "cannot stat ", what, " '", path,
               "': ", std::strerror(errno));
    check_mode(st, path, what);
    MART_CHECK(static_cast<uint64_t>(st.st_size) <= max_bytes, what, " '", path, "' has ",
               st.st_size, " bytes, more than the ", max_bytes,
               " such a file can hold; it is not a file MART wrote");
    out.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < out.size()) {
      const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
      if (n < 0 && errno == EINTR) continue;
      MART_CHECK(n >= 0, "cannot read ", what, " '", path, "': ", std::strerror(errno));
      if (n == 0) break;  // shrank while reading: the caller's parser reports the short text
      got += static_cast<size_t>(n);
    }
    out.resize(got);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return out;
}

bool exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

bool is_directory(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

void create_directories(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  MART_CHECK(!ec, "cannot create directory '", path, "': ", ec.message());
}

void rename(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  MART_CHECK(!ec, "cannot rename '", from, "' to '", to, "': ", ec.message());
}

std::string remove_all_noexcept(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  return ec ? ec.message() : std::string();
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) names.push_back(it->path().filename().string());
  MART_CHECK(!ec, "cannot list directory '", dir, "': ", ec.message());
  return names;
}

void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  MART_CHECK(fd >= 0, "cannot open directory '", dir, "' to sync it: ", std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // EINVAL: the file system cannot sync directories (some network file systems); nothing to do.
  MART_CHECK(rc == 0 || err == EINVAL, "cannot sync directory '", dir, "': ", std::strerror(err));
}

std::string host_tag() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  std::string h(buf);
  for (char& c : h)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'))
      c = '_';
  return h;
}

bool pid_alive(long pid) {
  if (pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

}  // namespace mart::ckpt_fs
