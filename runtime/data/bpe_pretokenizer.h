// The pre-tokenizers of byte-level BPE: text is split into pieces by a regex before merges run,
// and merges never cross pieces. Two known regexes are implemented by hand (no regex engine has
// \p{L}/\p{N} in Debian's C++ toolchain without ICU):
//   Gpt2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   Llama3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//           ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace mart {

enum class PreTokenizer { Gpt2, Llama3 };

// The pre-tokenizer whose regex is exactly `pattern` (as written in a tokenizer.json Split), or
// nullopt for any other pattern.
std::optional<PreTokenizer> pretokenizer_for_pattern(std::string_view pattern);
const char* pretokenizer_name(PreTokenizer p);

// Calls piece(text.substr(begin, len)) for each piece, in order; the pieces cover `text` exactly.
void pretokenize(PreTokenizer p, std::string_view text,
                 const std::function<void(std::string_view)>& piece);

}  // namespace mart
