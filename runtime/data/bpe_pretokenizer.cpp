#include "runtime/data/bpe_pretokenizer.h"

#include <vector>

#include "runtime/data/unicode_classes.h"

namespace mart {

namespace {

constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// The text as code points, with the byte offset of each (off[n] = text size).
struct Cps {
  std::vector<char32_t> cp;
  std::vector<size_t> off;
  size_t n() const { return cp.size(); }
};

Cps decode_all(std::string_view text) {
  Cps c;
  c.cp.reserve(text.size());
  c.off.reserve(text.size() + 1);
  for (size_t pos = 0; pos < text.size();) {
    const CodePoint d = decode_utf8(text, pos);
    c.cp.push_back(d.cp);
    c.off.push_back(pos);
    pos += d.len;
  }
  c.off.push_back(text.size());
  return c;
}

bool is_other(char32_t c) {  // [^\s\p{L}\p{N}]
  return !is_whitespace(c) && !is_letter(c) && !is_number(c);
}
char32_t lower(char32_t c) {
  return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

// 's|'t|'re|'ve|'m|'ll|'d at i: the match length in code points, or 0.
size_t contraction(const Cps& c, size_t i, bool any_case) {
  if (c.cp[i] != '\'' || i + 1 >= c.n()) return 0;
  auto at = [&](size_t k) { return k < c.n() ? (any_case ? lower(c.cp[k]) : c.cp[k]) : 0; };
  const char32_t a = at(i + 1), b = at(i + 2);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

// Extends from j while pred holds, at most `max` code points; returns the end.
template <class Pred>
size_t run(const Cps& c, size_t j, Pred pred, size_t max = SIZE_MAX) {
  size_t k = j;
  while (k < c.n() && k - j < max && pred(c.cp[k])) ++k;
  return k;
}

// \s+(?!\S)|\s+ at a white-space code point i: the end of the match.
size_t whitespace(const Cps& c, size_t i) {
  const size_t k = run(c, i, is_whitespace);
  if (k == c.n() || k - i == 1) return k;  // at the end, or a single space before \S
  return k - 1;                            // leave the last space to the next piece
}

size_t gpt2_match(const Cps& c, size_t i) {
  if (size_t m = contraction(c, i, false)) return i + m;
  const size_t j = c.cp[i] == ' ' ? i + 1 : i;
  if (j < c.n()) {
    if (is_letter(c.cp[j])) return run(c, j, is_letter);
    if (is_number(c.cp[j])) return run(c, j, is_number);
    if (is_other(c.cp[j])) return run(c, j, is_other);
  }
  return whitespace(c, i);
}

size_t llama3_match(const Cps& c, size_t i) {
  if (size_t m = contraction(c, i, true)) return i + m;
  const char32_t x = c.cp[i];
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (is_letter(x)) return run(c, i, is_letter);
  if (x != '\r' && x != '\n' && !is_number(x) && i + 1 < c.n() && is_letter(c.cp[i + 1]))
    return run(c, i + 1, is_letter);
  if (is_number(x)) return run(c, i, is_number, 3);  // \p{N}{1,3}
  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
  const size_t j = x == ' ' ? i + 1 : i;
  if (j < c.n() && is_other(c.cp[j])) {
    return run(c, run(c, j, is_other), [](char32_t y) { return y == '\r' || y == '\n'; });
  }
  // \s*[\r\n]+: up to the last \r or \n of the white-space run
  const size_t k = run(c, i, is_whitespace);
  for (size_t e = k; e > i; --e)
    if (c.cp[e - 1] == '\r' || c.cp[e - 1] == '\n') return e;
  return whitespace(c, i);
}

}  // namespace

std::optional<PreTokenizer> pretokenizer_for_pattern(std::string_view pattern) {
  if (pattern == kGpt2Pattern) return PreTokenizer::Gpt2;
  if (pattern == kLlama3Pattern) return PreTokenizer::Llama3;
  return std::nullopt;
}

const char* pretokenizer_name(PreTokenizer p) {
  return p == PreTokenizer::Gpt2 ? "GPT-2" : "Llama-3";
}

void pretokenize(PreTokenizer p, std::string_view text,
                 const std::function<void(std::string_view)>& piece) {
  const Cps c = decode_all(text);
  for (size_t i = 0; i < c.n();) {
    const size_t e = p == PreTokenizer::Gpt2 ? gpt2_match(c, i) : llama3_match(c, i);
    piece(text.substr(c.off[i], c.off[e] - c.off[i]));
    i = e;
  }
}

}  // namespace mart
