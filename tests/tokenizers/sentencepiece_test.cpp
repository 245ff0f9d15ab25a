// SentencePiece through libsentencepiece against Python's sentencepiece (python3-sentencepiece), on
// models `mart train-tokenizer` trains in the test.
#include "runtime/data/sentencepiece_tokenizer.h"
#include "runtime/data/tokenizer.h"
#include "runtime/data/train_tokenizer.h"
#include "tests/tokenizers/tok_util.h"

namespace mart::toktest {
namespace {

constexpr const char* kEncodePy = R"(import json, sys
import sentencepiece as spm
p = spm.SentencePieceProcessor(model_file=sys.argv[1])
xs = json.load(open(sys.argv[2], encoding='utf-8'))
json.dump([p.encode(x) for x in xs], open(sys.argv[3], 'w'))
)";

std::string train(const TempDir& dir, const std::string& name, uint32_t vocab,
                  const std::string& type) {
  TrainTokenizerOptions o;
  o.text_path = shakespeare_path();
  o.out_path = dir.file(name);
  o.vocab_size = vocab;
  o.type = type;
  return train_sentencepiece(o).path;
}

class SentencePieceVsPython : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (run("/usr/bin/python3 -c 'import sentencepiece'").exit_code != 0)
      GTEST_SKIP() << "/usr/bin/python3 has no sentencepiece (apt-get install "
                      "python3-sentencepiece)";
    write_all(dir_.file("encode.py"), kEncodePy);
  }
  std::vector<std::vector<uint32_t>> py_ids(const std::string& model,
                                            const std::vector<std::string>& xs) {
    return reference_ids("/usr/bin/python3 " + q(dir_.file("encode.py")) + " " + q(model), xs,
                         dir_);
  }
  TempDir dir_{"sp"};
};

TEST_P(SentencePieceVsPython, EncodesAsPythonSentencePiece) {
  const std::string model = train(dir_, "tok.model", 1000, GetParam());
  const auto tok = load_tokenizer(model);
  EXPECT_EQ(tok->kind(), TokenizerKind::SentencePiece);
  EXPECT_EQ(tok->vocab_size(), 1000u);
  EXPECT_EQ(tok->bos_id(), 1u);
  EXPECT_EQ(tok->eos_id(), 2u);
  const auto xs = cross_check_strings();
  const auto ref = py_ids(model, xs);
  ASSERT_EQ(ref.size(), xs.size());
  size_t tokens = 0;
  const size_t ok = count_agreeing(
      xs, ref, [&](const std::string& s) { return tok->encode(s); }, &tokens);
  EXPECT_EQ(ok, xs.size());
  std::printf("SentencePiece %s vs Python: %zu/%zu strings, %zu tokens agree\n", GetParam().c_str(),
              ok, xs.size(), tokens);
  // Identity normalisation and byte fallback: every string comes back exactly.
  for (const auto& s : xs) EXPECT_EQ(tok->decode(tok->encode(s)), s);
}

// Negative control: Python with a model of another vocabulary disagrees with MART's ids.
TEST_P(SentencePieceVsPython, AnotherModelMakesTheComparisonFail) {
  const auto tok = load_tokenizer(train(dir_, "a.model", 1000, GetParam()));
  const std::string other = train(dir_, "b.model", 1500, GetParam());
  const auto xs = cross_check_strings(40, 30);
  const auto ref = py_ids(other, xs);
  const size_t ok = count_agreeing(
      xs, ref, [&](const std::string& s) { return tok->encode(s); }, nullptr, false);
  EXPECT_LT(ok, xs.size() / 2);
}

INSTANTIATE_TEST_SUITE_P(Types, SentencePieceVsPython, ::testing::Values("bpe", "unigram"));

TEST(SentencePiece, TrainingIsDeterministic) {
  TempDir dir("spdet");
  const std::string a = read_all(train(dir, "a.model", 600, "unigram"));
  const std::string b = read_all(train(dir, "b.model", 600, "unigram"));
  EXPECT_EQ(a, b);
  EXPECT_NE(a, read_all(train(dir, "c.model", 700, "unigram")));  // control: options matter
}

TEST(SentencePiece, VocabularyTooLargeForTheTextIsRefusedWithAFix) {
  TempDir dir("spbig");
  write_all(dir.file("small.txt"), "just a few words\nand another line\n");
  TrainTokenizerOptions o;
  o.text_path = dir.file("small.txt");
  o.out_path = dir.file("x.model");
  o.vocab_size = 8000;
  const std::string msg = error_of([&] { train_sentencepiece(o); });
  EXPECT_TRUE(has(msg, "small.txt"));
  EXPECT_TRUE(has(msg, "lower --vocab-size"));
  EXPECT_FALSE(fs::exists(o.out_path));
}

TEST(SentencePiece, NotAModelIsRefusedNamingTheFile) {
  TempDir dir("spbad");
  write_all(dir.file("junk.model"), "this is not a protobuf");
  const std::string msg = error_of([&] { load_tokenizer(dir.file("junk.model")); });
  EXPECT_TRUE(has(msg, "junk.model"));
  EXPECT_TRUE(has(msg, "not a SentencePiece model"));
}

// Continuation text (after a newline) gets no dummy-prefix "▁", so chunked encoding equals whole.
TEST(SentencePiece, ContinuationHasNoDummyPrefix) {
  TempDir dir("spcont");
  const auto tok = load_tokenizer(train(dir, "t.model", 800, "bpe"));
  const std::string a = "First Citizen:\n", b = "Before we proceed any further, hear me speak.\n";
  auto ids = tok->encode(a);
  const auto rest = tok->encode_continuation(b);
  ids.insert(ids.end(), rest.begin(), rest.end());
  EXPECT_EQ(ids, tok->encode(a + b));
  EXPECT_NE(tok->encode(b), rest);  // control: plain encode() adds the "▁"
}

}  // namespace
}  // namespace mart::toktest
