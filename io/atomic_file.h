// Crash-safe file replacement: a reader of PATH sees either the complete old file or the complete
// new one, never a torn mix -- which is what a checkpoint or data shard must guarantee when a job
// is killed mid-write.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace mart {

// The write end handed to the fill callback of write_file_atomic.
class FileSink {
 public:
  // Writes all n bytes (retrying short writes and EINTR); throws mart::Error on I/O failure
  // (e.g. disk full), naming the file.
  void write(const void* data, size_t n);
  uint64_t bytes_written() const { return written_; }

 private:
  friend void write_file_atomic(const std::string&, const std::function<void(FileSink&)>&);
  FileSink(int fd, const std::string& path) : fd_(fd), path_(path) {}
  int fd_;
  const std::string& path_;
  uint64_t written_ = 0;
};

// Writes PATH atomically: `fill` streams the contents into PATH.tmp.<pid>, which is fsync'ed,
// renamed over PATH, and the directory fsync'ed so the rename survives a power loss. If anything
// fails -- including `fill` throwing -- the temp file is removed, PATH is left untouched, and the
// exception propagates (I/O errors as mart::Error naming the path and the OS error). Two threads
// of one process must not write the same PATH concurrently (they would share the temp name).
void write_file_atomic(const std::string& path, const std::function<void(FileSink&)>& fill);

// Convenience: atomically replaces PATH with the n bytes at data.
void write_file_atomic(const std::string& path, const void* data, size_t n);

}  // namespace mart
