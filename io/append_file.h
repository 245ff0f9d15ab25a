// An append-only file whose every write is checked, for the run's logs (metrics.jsonl, its CSV
// and TensorBoard views): a short write is retried, a failed one throws mart::Error naming the
// file and the OS error, so a full disk is reported as such and never as a torn log.
#pragma once
#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>

namespace mart {

// write(2)-style function; tests inject one that fails (disk full) without root.
using WriteFn = std::function<ssize_t(int fd, const void* data, size_t n)>;

// An append-only file whose every write is checked: a short write is retried, a failed one throws
// mart::Error naming the file and the OS error (e.g. "No space left on device").
class AppendFile {
 public:
  explicit AppendFile(std::string path, WriteFn write_fn = {});  // empty: ::write
  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;
  void append(std::string_view bytes);
  // fdatasync: what was appended is on disk (some filesystems report a full disk only here).
  void sync();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  WriteFn write_;
  int fd_ = -1;
};

}  // namespace mart
