// Unicode character classes for the byte-level BPE pre-tokenizers: the regexes of GPT-2 and
// Llama-3 split text with \p{L} (letters), \p{N} (numbers) and \s (white space). The L and N tables
// are generated from Python's unicodedata (scripts/gen_unicode_classes.py), so no ICU is needed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mart {

namespace unicode_detail {
struct CodeRange {
  char32_t first, last;
};
extern const CodeRange kLetterRanges[];
extern const size_t kLetterRanges_count;
extern const CodeRange kNumberRanges[];
extern const size_t kNumberRanges_count;
}  // namespace unicode_detail

bool is_letter(char32_t c);      // general category L*
bool is_number(char32_t c);      // general category N*
bool is_whitespace(char32_t c);  // the Unicode White_Space property (regex \s)

// One code point decoded from UTF-8. Invalid or truncated sequences decode byte by byte as
// U+FFFD with length 1, so every byte of the input lands in exactly one code point.
struct CodePoint {
  char32_t cp;
  uint32_t len;  // bytes in the UTF-8 text
};
CodePoint decode_utf8(std::string_view s, size_t pos);

}  // namespace mart
