// load_tokenizer: picking the format from a path or a folder, and the errors for files MART
// cannot use (each names the file and what is wrong).
#include "runtime/data/tokenizer.h"
#include "runtime/data/unicode_classes.h"
#include "tests/common/byte_level_vocab.h"
#include "tests/tokenizers/tok_util.h"

namespace mart::toktest {
namespace {

// A minimal byte-level BPE tokenizer.json whose pre_tokenizer / normalizer the caller sets.
nlohmann::json tiny_tokenizer_json(const nlohmann::json& pre_tokenizer) {
  nlohmann::json vocab = mart::test::byte_level_vocab();  // GPT-2's byte alphabet, ids 0..255
  vocab["ab"] = 256;
  vocab
      ["\xC4\xA0"
       "ab"] = 257;  // "Ġab": " ab"
  return {{"normalizer", nullptr},
          {"pre_tokenizer", pre_tokenizer},
          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"a b", "\xC4\xA0 ab"}}}}};
}

TEST(LoadTokenizer, ByteByDefault) {
  EXPECT_EQ(load_tokenizer("")->kind(), TokenizerKind::Byte);
  EXPECT_EQ(load_tokenizer("byte")->vocab_size(), 256u);
}

TEST(LoadTokenizer, HuggingFaceByteLevelAndLlama3Split) {
  TempDir dir("hf");
  write_json(dir.file("tokenizer.json"),
             tiny_tokenizer_json({{"type", "ByteLevel"}, {"add_prefix_space", false}}));
  const auto tok = load_tokenizer(dir.path().string());
  EXPECT_EQ(tok->encode("ab ab"), std::vector<uint32_t>({256, 257}));
  EXPECT_EQ(tok->decode(tok->encode("ab ab")), "ab ab");
  EXPECT_TRUE(has(tok->describe(), "GPT-2 pre-tokenizer"));

  const std::string llama3 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  nlohmann::json seq = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"},
         {"pattern", {{"Regex", llama3}}},
         {"behavior", "Isolated"},
         {"invert", false}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  write_json(dir.file("l3.json"), tiny_tokenizer_json(seq));
  const auto l3 = load_tokenizer(dir.file("l3.json"));
  EXPECT_TRUE(has(l3->describe(), "Llama-3 pre-tokenizer"));
  EXPECT_EQ(l3->encode("1234"), load_tokenizer("byte")->encode("1234"));  // bytes: ids = bytes
}

// Llama-3's ignore_merges: a piece that is itself in the vocabulary is one token, even when the
// merges would not build it.
TEST(LoadTokenizer, IgnoreMergesTakesWholePiecesFromTheVocabulary) {
  TempDir dir("ignore");
  nlohmann::json j = tiny_tokenizer_json({{"type", "ByteLevel"}});
  j["model"]["vocab"]["abc"] = 258;
  write_json(dir.file("plain.json"), j);
  EXPECT_EQ(load_tokenizer(dir.file("plain.json"))->encode("abc"),
            std::vector<uint32_t>({256, 'c'}));  // control: merges alone give "ab" + "c"
  j["model"]["ignore_merges"] = true;
  write_json(dir.file("ignore.json"), j);
  EXPECT_EQ(load_tokenizer(dir.file("ignore.json"))->encode("abc"), std::vector<uint32_t>({258}));
}

TEST(LoadTokenizer, UnknownSplitRegexIsRefusedNamingIt) {
  TempDir dir("hfbad");
  nlohmann::json seq = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"}, {"pattern", {{"Regex", "\\w+|\\s+"}}}, {"behavior", "Isolated"}},
        {{"type", "ByteLevel"}, {"use_regex", false}}}}};
  write_json(dir.file("tokenizer.json"), tiny_tokenizer_json(seq));
  const std::string msg = error_of([&] { load_tokenizer(dir.file("tokenizer.json")); });
  EXPECT_TRUE(has(msg, "tokenizer.json"));
  EXPECT_TRUE(has(msg, "Split regex '\\w+|\\s+' is not one MART implements"));
}

TEST(LoadTokenizer, MalformedFilesAreRefusedNamingTheFile) {
  TempDir dir("bad");
  write_all(dir.file("tokenizer.json"), "{\"model\": {\"type\": \"BPE\", \"vocab\": {");
  EXPECT_TRUE(has(error_of([&] { load_tokenizer(dir.file("tokenizer.json")); }),
                  "is not valid JSON (at byte"));
  nlohmann::json wp = tiny_tokenizer_json({{"type", "ByteLevel"}});
  wp["model"]["type"] = "WordPiece";
  write_json(dir.file("wp.json"), wp);
  EXPECT_TRUE(has(error_of([&] { load_tokenizer(dir.file("wp.json")); }),
                  "model.type 'WordPiece' is not supported"));
  nlohmann::json merge = tiny_tokenizer_json({{"type", "ByteLevel"}});
  merge["model"]["merges"].push_back("zz q");
  write_json(dir.file("m.json"), merge);
  EXPECT_TRUE(has(error_of([&] { load_tokenizer(dir.file("m.json")); }),
                  "merge 3: merge 'zz q' uses 'zz', which is not in the vocabulary"));
  nlohmann::json affix = tiny_tokenizer_json({{"type", "ByteLevel"}});
  affix["model"]["continuing_subword_prefix"] = "##";
  write_json(dir.file("affix.json"), affix);
  EXPECT_TRUE(has(error_of([&] { load_tokenizer(dir.file("affix.json")); }),
                  "model.continuing_subword_prefix \"##\" is not supported"));
  EXPECT_TRUE(
      has(error_of([&] { load_tokenizer(dir.path().string() + "/empty"); }), "does not exist"));
  fs::create_directories(dir.file("emptydir"));
  EXPECT_TRUE(has(error_of([&] { load_tokenizer(dir.file("emptydir")); }),
                  "holds none of tokenizer.model"));
  write_all(dir.file("encoder.json"), "{}");
  EXPECT_TRUE(has(error_of([&] { load_tokenizer(dir.file("encoder.json")); }),
                  "vocab.bpe (its merges) is not beside it"));
}

TEST(LoadTokenizer, DecodeRefusesIdsOutsideTheVocabulary) {
  TempDir dir("dec");
  write_json(dir.file("tokenizer.json"), tiny_tokenizer_json({{"type", "ByteLevel"}}));
  const auto tok = load_tokenizer(dir.file("tokenizer.json"));
  const std::vector<uint32_t> ids = {97, 9999};
  EXPECT_TRUE(has(error_of([&] { tok->decode(ids); }), "id 9999 at index 1"));
}

TEST(UnicodeClasses, LettersNumbersAndSpaces) {
  EXPECT_TRUE(is_letter(U'é'));
  EXPECT_TRUE(is_letter(U'Ж'));
  EXPECT_TRUE(is_letter(U'日'));
  EXPECT_FALSE(is_letter(U'1'));
  EXPECT_FALSE(is_letter(U'😀'));
  EXPECT_TRUE(is_number(U'٣'));
  EXPECT_TRUE(is_number(U'Ⅻ'));
  EXPECT_TRUE(is_number(U'½'));
  EXPECT_FALSE(is_number(U'a'));
  EXPECT_TRUE(is_whitespace(U'\u3000'));
  EXPECT_FALSE(is_whitespace(U'\u200b'));
}

}  // namespace
}  // namespace mart::toktest
