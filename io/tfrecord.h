// TFRecord framing, the container TensorBoard's event files use. Each record is
//   uint64 length (little-endian) | uint32 masked CRC-32C of those 8 bytes | data (length bytes) |
//   uint32 masked CRC-32C of the data
// with mask(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8 (uint32 arithmetic). The writer
// appends records to a file, every write checked; the reader (tests, tools) checks both CRCs of
// every record and names the record index and byte offset of the first bad one.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "io/append_file.h"

namespace mart {

// The masked CRC-32C of n bytes (io/checksum.h crc32c, then the mask above).
uint32_t masked_crc32c(const void* data, size_t n);

// One framed record: 16 + data.size() bytes.
std::string tfrecord_frame(std::string_view data);

// write(2)-style function; tests inject one that fails (disk full) without root.
using RecordWriteFn = WriteFn;

// Appends framed records to PATH (created when missing; existing records are kept). A failed
// write or sync throws mart::Error naming the file and the OS error.
class TfRecordWriter {
 public:
  explicit TfRecordWriter(std::string path, RecordWriteFn write_fn = {});  // empty: ::write
  TfRecordWriter(const TfRecordWriter&) = delete;
  TfRecordWriter& operator=(const TfRecordWriter&) = delete;

  void write(std::string_view data);
  // fdatasync: every record written so far is on disk.
  void sync();
  const std::string& path() const { return file_.path(); }

 private:
  AppendFile file_;
};

// Every record of `bytes`, in order. Throws mart::Error naming `what` (a file name), the record
// index and its byte offset when a length or data CRC does not match or a record is truncated.
std::vector<std::string> tfrecord_parse(std::string_view bytes, const std::string& what);

// tfrecord_parse of a whole file; throws mart::Error naming the path when it cannot be read.
std::vector<std::string> tfrecord_read_file(const std::string& path);

}  // namespace mart
