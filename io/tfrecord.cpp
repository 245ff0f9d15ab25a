#include "io/tfrecord.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "io/checksum.h"

namespace mart {
namespace {

constexpr uint32_t kMaskDelta = 0xa282ead8u;

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xffu));
}

uint64_t get_le(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

}  // namespace

uint32_t masked_crc32c(const void* data, size_t n) {
  const uint32_t crc = crc32c(data, n);
  return ((crc >> 15) | (crc << 17)) + kMaskDelta;
}

std::string tfrecord_frame(std::string_view data) {
  std::string out;
  out.reserve(16 + data.size());
  put_le(out, data.size(), 8);
  put_le(out, masked_crc32c(out.data(), 8), 4);
  out.append(data);
  put_le(out, masked_crc32c(data.data(), data.size()), 4);
  return out;
}

TfRecordWriter::TfRecordWriter(std::string path, RecordWriteFn write_fn)
    : file_(std::move(path), std::move(write_fn)) {}

void TfRecordWriter::write(std::string_view data) {
  file_.append(tfrecord_frame(data));
}

void TfRecordWriter::sync() {
  file_.sync();
}

std::vector<std::string> tfrecord_parse(std::string_view bytes, const std::string& what) {
  std::vector<std::string> out;
  size_t off = 0;
  while (off < bytes.size()) {
    const size_t idx = out.size();
    MART_CHECK(bytes.size() - off >= 12, what, ": record ", idx, " at byte ", off,
               " is truncated (", bytes.size() - off, " bytes left, its header needs 12)");
    const char* h = bytes.data() + off;
    MART_CHECK(get_le(h + 8, 4) == masked_crc32c(h, 8), what, ": record ", idx, " at byte ", off,
               ": the length CRC does not match (the file is damaged)");
    const uint64_t len = get_le(h, 8);
    MART_CHECK(len <= bytes.size() - off - 12 && bytes.size() - off - 12 - len >= 4, what,
               ": record ", idx, " at byte ", off, " is truncated (length ", len, ", ",
               bytes.size() - off - 12, " bytes follow its header)");
    const char* d = h + 12;
    MART_CHECK(get_le(d + len, 4) == masked_crc32c(d, len), what, ": record ", idx, " at byte ",
               off, ": the data CRC does not match (the file is damaged)");
    out.emplace_back(d, len);
    off += 16 + len;
  }
  return out;
}

std::vector<std::string> tfrecord_read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  MART_CHECK(in.good(), "cannot open '", path, "' for reading: ", std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  MART_CHECK(!in.bad(), "cannot read '", path, "'");
  return tfrecord_parse(ss.str(), path);
}

}  // namespace mart
