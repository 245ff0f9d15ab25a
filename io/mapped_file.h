// A read-only memory map of a whole file. Readers of token shards and safetensors use it so that
// opening a multi-GB file costs nothing until pages are touched, and views can point into it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace mart {

class MappedFile {
 public:
  // Maps `path` read-only. Throws mart::Error naming the path and the OS error when the file is
  // missing, unreadable, or not a regular file. An empty file maps to size() == 0, data() == null.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  void release();
  std::string path_;
  const std::byte* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace mart
