// Opening a file input only when it is a regular file. A FIFO given as a config, shard, checkpoint
// or text file would block open() or read() forever, and a directory or device would give a
// confusing error (or endless data, /dev/zero); so every reader of a user-named file goes through
// here. The check is timeout-free: stat() first, then open() with O_NONBLOCK (which never waits
// for a FIFO's writer) and fstat() on the opened descriptor, so a file swapped for a FIFO between
// the two is refused too.
#pragma once
#include <cstddef>
#include <string>

namespace mart {

// Opens `path` read-only and returns its file descriptor (O_CLOEXEC, blocking mode restored).
// Throws mart::Error naming `what` ("job config", "token shard"), the path and what it is instead
// ("a FIFO (named pipe)", "a directory", ...) when it is missing, unreadable or not a regular file.
int open_regular_file(const std::string& path, const std::string& what);

// The whole file's bytes, via open_regular_file. Throws mart::Error on any read failure, or when
// the file is larger than `max_bytes` (a text input that big is a wrong path, not a config).
std::string read_regular_file(const std::string& path, const std::string& what,
                              size_t max_bytes = size_t{1} << 30);

// True when `path` exists and is a regular file (follows symlinks); never opens it.
bool is_regular_file(const std::string& path);

}  // namespace mart
