// GPT-2's byte-to-unicode alphabet as a tokenizer.json / encoder.json vocabulary: byte b maps to
// the UTF-8 text of its printable stand-in code point, with id b. Tests that build small byte-level
// BPE files start from it and add their own merges and tokens.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace mart::test {

inline nlohmann::json byte_level_vocab() {
  nlohmann::json vocab = nlohmann::json::object();
  uint32_t n = 0;  // non-printable bytes get code points 256, 257, ... in byte order
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    const uint32_t cp = printable ? b : 256 + n++;
    std::string u;
    if (cp < 0x80) {
      u.push_back(static_cast<char>(cp));
    } else {
      u.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      u.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    vocab[u] = b;
  }
  return vocab;
}

}  // namespace mart::test
