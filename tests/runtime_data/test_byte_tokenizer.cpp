#include "runtime/data/byte_tokenizer.h"
#include "tests/io/fifo_guard.h"
#include "tests/io/io_test_util.h"

namespace mart {
namespace {

using test::error_of;
using test::has;
using test::TempDir;

TEST(ByteTokenizer, RoundTripAllBytes) {
  std::string text;
  for (int b = 0; b < 256; ++b) text.push_back(static_cast<char>(b));
  text += "hello, world\n";
  const ByteTokenizer tok;
  const auto ids = tok.encode(text);
  ASSERT_EQ(ids.size(), text.size());
  EXPECT_EQ(ids[0], 0u);
  EXPECT_EQ(ids[255], 255u);
  EXPECT_EQ(ids[256], static_cast<uint32_t>('h'));
  EXPECT_EQ(tok.decode(ids), text);
}

TEST(ByteTokenizer, DecodeRejectsNonBytes) {
  const std::vector<uint32_t> ids{104, 105, 256};
  EXPECT_TRUE(has(error_of([&] { ByteTokenizer().decode(ids); }), "token 256 at index 2"));
}

TEST(PrepareData, SplitsTrainAndVal) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 100; ++i) text += static_cast<char>('a' + i % 26);
  test::write_all(dir.file("in.txt"), text);

  const PreparedData out = prepare_data(dir.file("in.txt"), dir.file("tiny"), 0.1);
  EXPECT_EQ(out.train_path, dir.file("tiny.bin"));
  EXPECT_EQ(out.val_path, dir.file("tiny_val.bin"));
  EXPECT_EQ(out.train_tokens, 90u);
  EXPECT_EQ(out.val_tokens, 10u);

  const ByteTokenizer tok;
  TokenShard train(out.train_path, ByteTokenizer::kVocabSize);
  TokenShard val(out.val_path, ByteTokenizer::kVocabSize);
  EXPECT_EQ(train.format(), TokenFormat::U16);
  EXPECT_EQ(tok.decode(train.tokens()), text.substr(0, 90));
  EXPECT_EQ(tok.decode(val.tokens()), text.substr(90));
}

TEST(PrepareData, TrailingBinIsStrippedAndNoValWhenFractionZero) {
  TempDir dir;
  test::write_all(dir.file("in.txt"), "abc");
  const PreparedData out = prepare_data(dir.file("in.txt"), dir.file("x.bin"), 0.0);
  EXPECT_EQ(out.train_path, dir.file("x.bin"));
  EXPECT_TRUE(out.val_path.empty());
  EXPECT_FALSE(std::filesystem::exists(dir.file("x_val.bin")));
  EXPECT_EQ(TokenShard(out.train_path, 256).size(), 3u);
}

TEST(PrepareData, MissingEmptyAndBadFraction) {
  TempDir dir;
  EXPECT_TRUE(has(error_of([&] { prepare_data(dir.file("missing.txt"), dir.file("o"), 0.1); }),
                  dir.file("missing.txt")));
  test::write_all(dir.file("empty.txt"), "");
  EXPECT_TRUE(
      has(error_of([&] { prepare_data(dir.file("empty.txt"), dir.file("o"), 0.1); }), "is empty"));
  test::write_all(dir.file("one.txt"), "a");
  EXPECT_TRUE(
      has(error_of([&] { prepare_data(dir.file("one.txt"), dir.file("o"), 0.5); }), "too short"));
  EXPECT_TRUE(
      has(error_of([&] { prepare_data(dir.file("one.txt"), dir.file("o"), 1.0); }), "[0, 1)"));
}

// Before: -o naming the input overwrote it, a missing output folder was an error, `-o adir`
// (an existing directory) wrote adir.bin beside it, and a FIFO input blocked forever.
TEST(PrepareData, RefusesToOverwriteItsInput) {
  TempDir dir;
  test::write_all(dir.file("in.bin"), "some text to keep");
  EXPECT_TRUE(has(error_of([&] { prepare_data(dir.file("in.bin"), dir.file("in.bin"), 0.0); }),
                  "is the input text"));
  // By another name: a hard link, and the input as the validation shard.
  ASSERT_EQ(::link(dir.file("in.bin").c_str(), dir.file("alias.bin").c_str()), 0);
  EXPECT_TRUE(has(error_of([&] { prepare_data(dir.file("in.bin"), dir.file("alias"), 0.0); }),
                  "is the input text"));
  test::write_all(dir.file("t_val.bin"), "validation text");
  EXPECT_TRUE(has(error_of([&] { prepare_data(dir.file("t_val.bin"), dir.file("t.bin"), 0.5); }),
                  dir.file("t_val.bin") + "' is the input text"));
  EXPECT_EQ(test::read_all(dir.file("in.bin")), "some text to keep");
  EXPECT_EQ(test::read_all(dir.file("t_val.bin")), "validation text");
  EXPECT_FALSE(std::filesystem::exists(dir.file("t.bin")));  // nothing written on refusal
}

TEST(PrepareData, CreatesOutputFolderAndRefusesADirectory) {
  TempDir dir;
  test::write_all(dir.file("in.txt"), "hello world");
  const PreparedData out = prepare_data(dir.file("in.txt"), dir.file("new/sub/tiny.bin"), 0.0);
  EXPECT_EQ(TokenShard(out.train_path, 256).size(), 11u);
  std::filesystem::create_directories(dir.file("adir"));
  EXPECT_TRUE(has(error_of([&] { prepare_data(dir.file("in.txt"), dir.file("adir"), 0.0); }),
                  "names a directory"));
  EXPECT_TRUE(has(error_of([&] { prepare_data(dir.file("in.txt"), dir.file("bdir/"), 0.0); }),
                  "names a directory"));
  EXPECT_FALSE(std::filesystem::exists(dir.file("adir.bin")));
  // A directory where the shard would go is refused too.
  std::filesystem::create_directories(dir.file("c.bin"));
  EXPECT_TRUE(has(error_of([&] { prepare_data(dir.file("in.txt"), dir.file("c"), 0.0); }),
                  "is not a regular file"));
  // A new name without .bin still gets .bin appended (documented): c2 -> c2.bin.
  EXPECT_EQ(prepare_data(dir.file("in.txt"), dir.file("c2"), 0.0).train_path, dir.file("c2.bin"));
}

TEST(PrepareData, FifoInputIsRefused) {
  TempDir dir;
  test::make_fifo(dir.file("in.txt"));
  const std::string e = test::error_without_hang(
      dir.file("in.txt"), [&] { prepare_data(dir.file("in.txt"), dir.file("out.bin"), 0.1); });
  EXPECT_TRUE(has(e, "is not a regular file but a FIFO")) << e;
}

TEST(PrepareData, TinyShakespeare) {
  const std::string path = std::string(MART_SOURCE_DIR) + "/../shared/data/tinyshakespeare.txt";
  if (!std::filesystem::exists(path))
    GTEST_SKIP() << "tinyshakespeare.txt not found at " << path << " (shared data not present)";
  TempDir dir;
  const PreparedData out = prepare_data(path, dir.file("shakespeare"), 0.1);
  const uint64_t bytes = std::filesystem::file_size(path);
  EXPECT_EQ(out.train_tokens + out.val_tokens, bytes);
  EXPECT_NEAR(static_cast<double>(out.val_tokens), 0.1 * static_cast<double>(bytes), 1.0);
  const std::string text = test::read_all(path);
  TokenShard val(out.val_path, 256);
  EXPECT_EQ(ByteTokenizer().decode(val.tokens()), text.substr(out.train_tokens));
}

}  // namespace
}  // namespace mart
