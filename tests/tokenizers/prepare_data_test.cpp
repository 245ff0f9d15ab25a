// prepare-data with a tokenizer: chunked streaming gives the ids of encoding each part whole,
// shards round-trip to the text, uint32 shards when the vocabulary needs them, the CLI, and the
// trainer's refusal of a tokenizer larger than the model's vocabulary.
#include "config/job_config.h"
#include "runtime/data/job_data.h"
#include "runtime/data/prepare_tokens.h"
#include "runtime/data/token_shard.h"
#include "runtime/data/train_tokenizer.h"
#include "tests/common/byte_level_vocab.h"
#include "tests/tokenizers/tok_util.h"

namespace mart::toktest {
namespace {

std::string mart() {
  return "env OMP_NUM_THREADS=1 " MART_BINARY_DIR "/mart";
}

const std::string& sp_model() {  // one small model for the whole binary
  static TempDir dir("spmodel");
  static const std::string path = [] {
    TrainTokenizerOptions o;
    o.text_path = shakespeare_path();
    o.out_path = dir.file("t.model");
    o.vocab_size = 700;
    return train_sentencepiece(o).path;
  }();
  return path;
}

// A tiny byte-level BPE tokenizer.json: 256 bytes, one merge, and an added token with id 70000,
// so its vocabulary (70001) needs uint32 shards.
std::string big_vocab_tokenizer(const TempDir& dir) {
  nlohmann::json vocab = mart::test::byte_level_vocab();  // GPT-2's byte alphabet, ids 0..255
  vocab["th"] = 256;
  nlohmann::json j = {
      {"added_tokens", {{{"id", 70000}, {"content", "<|big|>"}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"t h"}}}},
  };
  write_json(dir.file("tokenizer.json"), j);
  return dir.file("tokenizer.json");
}

std::vector<uint32_t> shard_tokens(const std::string& path, uint32_t vocab) {
  return TokenShard(path, vocab).tokens();
}

TEST(PrepareTokens, ChunkedEqualsWholeForSentencePieceAndBpe) {
  TempDir dir("chunks");
  const std::string text = read_all(shakespeare_path()).substr(0, 200000);
  write_all(dir.file("in.txt"), text);
  for (const std::string& path : {sp_model(), big_vocab_tokenizer(dir)}) {
    const auto tok = load_tokenizer(path);
    PrepareOptions opt;
    opt.val_fraction = 0.1;
    opt.chunk_bytes = 3000;  // ~60 chunks
    size_t calls = 0;
    opt.progress = [&](uint64_t, uint64_t) { ++calls; };
    const PreparedData d =
        prepare_data_with_tokenizer(dir.file("in.txt"), dir.file("o.bin"), *tok, opt);
    EXPECT_GT(calls, 40u);
    const size_t cut = validation_start(text, 0.1, "in.txt");
    EXPECT_EQ(text[cut - 1], '\n');
    EXPECT_EQ(shard_tokens(d.train_path, tok->vocab_size()), tok->encode(text.substr(0, cut)))
        << path;
    EXPECT_EQ(shard_tokens(d.val_path, tok->vocab_size()), tok->encode(text.substr(cut))) << path;
  }
}

// CRLF text has no safe newline cut; byte-level BPE then cuts at spaces between letters.
TEST(PrepareTokens, CrlfTextIsCutAtSpacesForBpeAndEncodesAsWhole) {
  TempDir dir("crlf");
  std::string text;
  for (char c : read_all(shakespeare_path()).substr(0, 100000)) {
    if (c == '\n') text += '\r';
    text += c;
  }
  write_all(dir.file("in.txt"), text);
  const auto tok = load_tokenizer(big_vocab_tokenizer(dir));
  EXPECT_EQ(next_chunk_end(text, 0, 1000), text.size());  // no newline cut at all
  const size_t cut = next_chunk_end(text, 0, 1000, true);
  ASSERT_LT(cut, text.size());
  EXPECT_EQ(text[cut], ' ');
  PrepareOptions opt;
  opt.val_fraction = 0;
  opt.chunk_bytes = 500;
  size_t chunks = 0;
  opt.progress = [&](uint64_t, uint64_t) { ++chunks; };
  const PreparedData d =
      prepare_data_with_tokenizer(dir.file("in.txt"), dir.file("o.bin"), *tok, opt);
  EXPECT_GT(chunks, 5u);
  EXPECT_EQ(shard_tokens(d.train_path, tok->vocab_size()), tok->encode(text));
}

// Control: cutting at every newline (not only safe ones) or encoding each chunk as a fresh text
// changes SentencePiece's ids, so the test above can fail.
TEST(PrepareTokens, NaiveChunkingWouldDiffer) {
  const auto tok = load_tokenizer(sp_model());
  const std::string text = read_all(shakespeare_path()).substr(0, 20000);
  std::vector<uint32_t> naive;
  for (size_t pos = 0; pos < text.size();) {
    const size_t end = next_chunk_end(text, pos, 1000);
    const auto ids = tok->encode(text.substr(pos, end - pos));  // encode(), not continuation
    naive.insert(naive.end(), ids.begin(), ids.end());
    pos = end;
  }
  EXPECT_NE(naive, tok->encode(text));
}

TEST(PrepareTokens, ChunkCutsAreSafe) {
  const std::string t = "ab\n\ncd\n ef\ngh\nij";
  // "\n\n" (white space before), "\n " (white space after) are skipped; "ef\ngh" is safe.
  EXPECT_EQ(next_chunk_end(t, 0, 1), t.find("gh"));
  EXPECT_EQ(next_chunk_end("no newline at all", 0, 1), 17u);
}

TEST(PrepareTokens, VocabularyAbove65536WritesUint32Shards) {
  TempDir dir("u32");
  const auto tok = load_tokenizer(big_vocab_tokenizer(dir));
  EXPECT_EQ(tok->vocab_size(), 70001u);
  const std::string text = "the thin thing<|big|>\nthat was all\nthe end\n";
  write_all(dir.file("in.txt"), text);
  PrepareOptions opt;
  opt.val_fraction = 0.3;
  const PreparedData d = prepare_data_with_tokenizer(dir.file("in.txt"), dir.file("o"), *tok, opt);
  EXPECT_EQ(d.format, TokenFormat::U32);
  EXPECT_EQ(read_shard_info(d.train_path).format, TokenFormat::U32);
  const auto train = shard_tokens(d.train_path, 70001), val = shard_tokens(d.val_path, 70001);
  EXPECT_NE(std::find(train.begin(), train.end(), 70000u), train.end());
  EXPECT_EQ(tok->decode(train) + tok->decode(val), text);
}

TEST(PrepareTokens, CliRoundTripsAFileWithATrainedTokenizer) {
  TempDir dir("cli");
  const std::string text = read_all(shakespeare_path()).substr(0, 50000);
  write_all(dir.file("in.txt"), text);
  const Cmd t = run(mart() + " train-tokenizer " + q(dir.file("in.txt")) + " -o " +
                    q(dir.file("tok/t.model")) + " --vocab-size 500 --type unigram");
  ASSERT_EQ(t.exit_code, 0) << t.output;
  const Cmd p = run(mart() + " prepare-data " + q(dir.file("in.txt")) + " -o " +
                    q(dir.file("data/ts.bin")) + " --tokenizer " + q(dir.file("tok/t.model")));
  ASSERT_EQ(p.exit_code, 0) << p.output;
  EXPECT_TRUE(has(p.output, "sentencepiece t.model (vocab 500)"));
  EXPECT_TRUE(has(p.output, "data.tokenizer: " + dir.file("tok/t.model")));
  EXPECT_TRUE(has(p.output, "model.vocab_size: 500"));
  const auto tok = load_tokenizer(dir.file("tok/t.model"));
  EXPECT_EQ(read_shard_info(dir.file("data/ts.bin")).format, TokenFormat::U16);
  const std::string back = tok->decode(shard_tokens(dir.file("data/ts.bin"), 500)) +
                           tok->decode(shard_tokens(dir.file("data/ts_val.bin"), 500));
  EXPECT_EQ(back, text);
  // A missing tokenizer is one line naming it.
  const Cmd bad = run(mart() + " prepare-data " + q(dir.file("in.txt")) + " -o " +
                      q(dir.file("x.bin")) + " --tokenizer " + q(dir.file("nope.model")));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(has(bad.output, "nope.model' does not exist"));
}

TEST(PrepareTokens, TrainerRefusesATokenizerLargerThanTheModelVocab) {
  TempDir dir("vocab");
  const std::string text = read_all(shakespeare_path()).substr(0, 20000);
  write_all(dir.file("in.txt"), text);
  const auto tok = load_tokenizer(sp_model());
  PrepareOptions opt;
  const PreparedData d =
      prepare_data_with_tokenizer(dir.file("in.txt"), dir.file("d.bin"), *tok, opt);
  JobConfig cfg;
  cfg.data.source = "shards";
  cfg.data.train_pattern = d.train_path;
  cfg.data.tokenizer = sp_model();
  cfg.model.vocab_size = 512;
  const std::string msg = error_of([&] { make_job_data(cfg); });
  EXPECT_TRUE(has(msg, "has 700 ids, more than model.vocab_size 512"));
  cfg.model.vocab_size = 700;  // control: a vocabulary that fits is accepted
  EXPECT_NO_THROW(make_job_data(cfg));
}

}  // namespace
}  // namespace mart::toktest
