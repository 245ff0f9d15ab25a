// CRC-32C (Castagnoli) for verifying files end to end: a checkpoint manifest records each file's
// CRC at save time and the loader compares on restore, catching truncation and bit rot that a
// format parser alone might accept.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace mart {

// CRC-32C of n bytes, continuing from `crc` (the value returned for the previous chunk; 0 to
// start), so a large file can be checksummed in pieces: crc32c(b, nb, crc32c(a, na)) equals the
// CRC of a followed by b. Check value: crc32c("123456789", 9) == 0xE3069283.
uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);

// CRC-32C of a whole file. Throws mart::Error naming the path when it cannot be read.
uint32_t crc32c_file(const std::string& path);

}  // namespace mart
