// safetensors files (https://github.com/huggingface/safetensors), the exchange format for model
// weights: 8-byte little-endian header length N, N bytes of JSON
//   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "value", ...}}
// then the raw little-endian tensor bytes, offsets relative to the start of that data section.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/dtype.h"
#include "io/mapped_file.h"

namespace mart {

// A tensor inside a mapped safetensors file. `data` stays valid while the SafetensorsFile lives.
// Files written by SafetensorsWriter align every tensor to its element size; third-party files
// may not (their JSON need not be padded), so copy with memcpy rather than casting when unsure.
struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const std::byte* data = nullptr;
  uint64_t nbytes = 0;

  int64_t numel() const;
};

// Reader: maps the file and validates the whole header up front (header length within the file,
// JSON parses, every entry has a known dtype, non-negative integer shape, shape * dtype size ==
// end - begin, offsets inside the data section, tensors contiguous without gaps or overlaps --
// the same rules Hugging Face's reader enforces), throwing mart::Error naming the file and the
// tensor on the first problem.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);

  const std::string& path() const { return file_.path(); }
  // Tensor names, sorted.
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  // Throws mart::Error naming the file and the missing tensor.
  const TensorView& tensor(const std::string& name) const;
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  // The "__metadata__" string map (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  MappedFile file_;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Writer: collect tensors and metadata, then write() atomically (write_file_atomic). Data is laid
// out contiguously, ordered by element size (largest first) then name, so with the 8-byte-aligned
// data section every tensor is naturally aligned; the JSON is space-padded to a multiple of 8.
class SafetensorsWriter {
 public:
  // Registers a tensor. The writer does not copy: `data` (numel(shape) * dtype_size bytes) must
  // stay valid and unchanged until write() returns. Throws on empty, duplicate or reserved
  // ("__metadata__") names and negative dimensions.
  void add(const std::string& name, DType dtype, std::vector<int64_t> shape, const void* data);
  void set_metadata(const std::string& key, const std::string& value);
  // Writes the file atomically; the previous file at `path`, if any, survives a failure.
  // on_bytes (optional, for a progress line): the tensor-data bytes written so far, called after
  // every piece of at most 64 MiB.
  void write(const std::string& path,
             const std::function<void(uint64_t bytes)>& on_bytes = {}) const;
  // The exact bytes write() puts before the tensor data (length prefix + padded JSON).
  std::string header_bytes() const;

 private:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    const void* data;
    uint64_t nbytes;
  };
  std::vector<const Entry*> data_order() const;
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace mart
