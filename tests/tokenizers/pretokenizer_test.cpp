// The hand-written GPT-2 and Llama-3 pre-tokenizers against JavaScript's regex engine (node),
// which implements \p{L}, \p{N} and \s itself. Llama-3's (?i:...) group is spelled out per letter
// for engines without inline modifiers.
#include "runtime/data/bpe_pretokenizer.h"
#include "tests/tokenizers/tok_util.h"

namespace mart::toktest {
namespace {

constexpr const char* kSplitJs = R"(const fs = require('fs');
const pats = {
  gpt2: /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu,
  llama3: /(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu,
};
const xs = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
fs.writeFileSync(process.argv[4], JSON.stringify(xs.map(s => s.match(pats[process.argv[2]]) || [])));
)";

std::vector<std::string> pieces(PreTokenizer p, const std::string& s) {
  std::vector<std::string> out;
  pretokenize(p, s, [&](std::string_view v) { out.emplace_back(v); });
  return out;
}

class PreTokenizerVsJs : public ::testing::TestWithParam<PreTokenizer> {};

TEST_P(PreTokenizerVsJs, SplitsAsTheJavaScriptRegex) {
  if (run("command -v node").exit_code != 0) GTEST_SKIP() << "node is not installed";
  TempDir dir("pretok");
  write_all(dir.file("split.js"), kSplitJs);
  const bool gpt2 = GetParam() == PreTokenizer::Gpt2;
  const auto xs = cross_check_strings(16, 60);
  write_json(dir.file("in.json"), xs);
  const Cmd r = run("node " + q(dir.file("split.js")) + (gpt2 ? " gpt2 " : " llama3 ") +
                    q(dir.file("in.json")) + " " + q(dir.file("out.json")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto ref = read_json(dir.file("out.json")).get<std::vector<std::vector<std::string>>>();
  ASSERT_EQ(ref.size(), xs.size());
  size_t ok = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const auto mine = pieces(GetParam(), xs[i]);
    if (mine == ref[i])
      ++ok;
    else
      ADD_FAILURE() << nlohmann::json(xs[i]).dump() << "\n mart: " << nlohmann::json(mine).dump()
                    << "\n   js: " << nlohmann::json(ref[i]).dump();
  }
  std::printf("%s pre-tokenizer vs JS regex: %zu/%zu strings agree\n", gpt2 ? "GPT-2" : "Llama-3",
              ok, xs.size());
}

INSTANTIATE_TEST_SUITE_P(Both, PreTokenizerVsJs,
                         ::testing::Values(PreTokenizer::Gpt2, PreTokenizer::Llama3),
                         [](const auto& i) {
                           return std::string(i.param == PreTokenizer::Gpt2 ? "Gpt2" : "Llama3");
                         });

// The two differ where they should (negative control for the comparison above).
TEST(PreTokenizer, Gpt2AndLlama3DifferOnDigitsAndCase) {
  EXPECT_EQ(pieces(PreTokenizer::Gpt2, "12345"), std::vector<std::string>({"12345"}));
  EXPECT_EQ(pieces(PreTokenizer::Llama3, "12345"), std::vector<std::string>({"123", "45"}));
  EXPECT_EQ(pieces(PreTokenizer::Gpt2, "I'LL"), std::vector<std::string>({"I", "'", "LL"}));
  EXPECT_EQ(pieces(PreTokenizer::Llama3, "I'LL"), std::vector<std::string>({"I", "'LL"}));
}

TEST(PreTokenizer, PiecesCoverInvalidUtf8ByteByByte) {
  const std::string bad = "ok\xff\xfe tail\xe2\x82";
  std::string joined;
  for (const auto& p : pieces(PreTokenizer::Gpt2, bad)) joined += p;
  EXPECT_EQ(joined, bad);
}

TEST(PreTokenizer, KnownPatternsAreRecognisedOthersAreNot) {
  EXPECT_EQ(pretokenizer_for_pattern(
                R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)"),
            PreTokenizer::Gpt2);
  EXPECT_FALSE(pretokenizer_for_pattern(R"(\w+|\s+)").has_value());
}

}  // namespace
}  // namespace mart::toktest
