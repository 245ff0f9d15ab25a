// Human sizes: "64MiB", "1.5GB", "4096" <-> bytes.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace mart {

// Parses a byte size. Accepts a plain integer or a number with a unit: B, KB/MB/GB/TB (powers of
// 1000), KiB/MiB/GiB/TiB (powers of 1024); K/M/G/T alone mean KiB/MiB/GiB/TiB. Case-insensitive
// units, optional space. Throws mart::Error naming the text on anything else, negative values, or
// overflow.
uint64_t parse_size(std::string_view text);

// "1.50 GiB", "512 B": for progress lines and reports.
std::string format_bytes(uint64_t bytes);

}  // namespace mart
