#include <numeric>

#include "runtime/data/token_shard.h"
#include "tests/io/io_test_util.h"

namespace mart {
namespace {

using test::error_of;
using test::has;
using test::TempDir;

std::vector<uint32_t> iota_tokens(size_t n, uint32_t mod) {
  std::vector<uint32_t> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = static_cast<uint32_t>((i * 7919) % mod);
  return t;
}

TEST(TokenShard, RoundTripU16) {
  TempDir dir;
  const auto tokens = iota_tokens(1000, 50257);
  write_token_shard(dir.file("a.bin"), tokens, TokenFormat::U16);
  EXPECT_EQ(std::filesystem::file_size(dir.file("a.bin")), 1024u + 2 * 1000);

  const ShardInfo info = read_shard_info(dir.file("a.bin"));
  EXPECT_EQ(info.format, TokenFormat::U16);
  EXPECT_EQ(info.num_tokens, 1000u);

  TokenShard shard(dir.file("a.bin"), 50257);
  EXPECT_EQ(shard.format(), TokenFormat::U16);
  EXPECT_EQ(shard.size(), 1000u);
  EXPECT_EQ(shard.tokens(), tokens);
  EXPECT_EQ(shard[999], tokens[999]);
  std::vector<int32_t> window(5);
  shard.copy_to(10, window);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(window[i], static_cast<int32_t>(tokens[10 + i]));
}

TEST(TokenShard, RoundTripU32) {
  TempDir dir;
  const auto tokens = iota_tokens(777, 128256);
  write_token_shard(dir.file("b.bin"), tokens, TokenFormat::U32);
  EXPECT_EQ(std::filesystem::file_size(dir.file("b.bin")), 1024u + 4 * 777);
  TokenShard shard(dir.file("b.bin"), 128256);
  EXPECT_EQ(shard.format(), TokenFormat::U32);
  EXPECT_EQ(shard.tokens(), tokens);
}

TEST(TokenShard, HeaderLayoutMatchesLlmC) {
  TempDir dir;
  write_token_shard(dir.file("c.bin"), std::vector<uint32_t>{1, 2, 258}, TokenFormat::U16);
  const std::string bytes = test::read_all(dir.file("c.bin"));
  int32_t header[256];
  std::memcpy(header, bytes.data(), sizeof(header));
  EXPECT_EQ(header[0], 20240520);
  EXPECT_EQ(header[1], 1);
  EXPECT_EQ(header[2], 3);
  for (int i = 3; i < 256; ++i) EXPECT_EQ(header[i], 0);
  // Little-endian uint16 tokens right after the header.
  EXPECT_EQ(static_cast<unsigned char>(bytes[1024 + 4]), 2);  // 258 = 0x0102
  EXPECT_EQ(static_cast<unsigned char>(bytes[1024 + 5]), 1);
}

TEST(TokenShard, EmptyShardIsValid) {
  TempDir dir;
  write_token_shard(dir.file("e.bin"), std::vector<uint32_t>{}, TokenFormat::U32);
  EXPECT_EQ(TokenShard(dir.file("e.bin"), 10).size(), 0u);
}

TEST(TokenShard, MissingFileNamesPath) {
  TempDir dir;
  const std::string msg = error_of([&] { read_shard_info(dir.file("nope.bin")); });
  EXPECT_TRUE(has(msg, dir.file("nope.bin")));
  EXPECT_TRUE(has(msg, "No such file"));
}

TEST(TokenShard, TruncatedFileStatesExpectedVsActualBytes) {
  TempDir dir;
  write_token_shard(dir.file("t.bin"), iota_tokens(100, 256), TokenFormat::U16);
  std::filesystem::resize_file(dir.file("t.bin"), 1024 + 150);
  const std::string msg = error_of([&] { TokenShard(dir.file("t.bin"), 256); });
  EXPECT_TRUE(has(msg, dir.file("t.bin")));
  EXPECT_TRUE(has(msg, "expected 1224 bytes"));
  EXPECT_TRUE(has(msg, "1174 bytes"));
  EXPECT_TRUE(has(msg, "truncated"));

  std::filesystem::resize_file(dir.file("t.bin"), 100);
  EXPECT_TRUE(
      has(error_of([&] { read_shard_info(dir.file("t.bin")); }), "less than the 1024-byte header"));
}

TEST(TokenShard, TrailingBytesRejected) {
  TempDir dir;
  write_token_shard(dir.file("t.bin"), iota_tokens(10, 256), TokenFormat::U32);
  std::filesystem::resize_file(dir.file("t.bin"), 1024 + 40 + 3);
  const std::string msg = error_of([&] { read_shard_info(dir.file("t.bin")); });
  EXPECT_TRUE(has(msg, "expected 1064 bytes"));
  EXPECT_TRUE(has(msg, "3 trailing bytes"));
}

TEST(TokenShard, UnknownMagicSaysFoundAndExpected) {
  TempDir dir;
  write_token_shard(dir.file("m.bin"), iota_tokens(10, 256), TokenFormat::U16);
  std::string bytes = test::read_all(dir.file("m.bin"));
  const int32_t bad = 12345;
  std::memcpy(bytes.data(), &bad, 4);
  test::write_all(dir.file("m.bin"), bytes);
  const std::string msg = error_of([&] { read_shard_info(dir.file("m.bin")); });
  EXPECT_TRUE(has(msg, "unknown header magic 12345"));
  EXPECT_TRUE(has(msg, "20240520"));
  EXPECT_TRUE(has(msg, "20240801"));
}

TEST(TokenShard, WrongVersionSaysExpectedVersion) {
  TempDir dir;
  write_token_shard(dir.file("v.bin"), iota_tokens(10, 256), TokenFormat::U32);
  std::string bytes = test::read_all(dir.file("v.bin"));
  const int32_t v = 3;
  std::memcpy(bytes.data() + 4, &v, 4);
  test::write_all(dir.file("v.bin"), bytes);
  const std::string msg = error_of([&] { read_shard_info(dir.file("v.bin")); });
  EXPECT_TRUE(has(msg, "version 3"));
  EXPECT_TRUE(has(msg, "expected version 7"));
}

TEST(TokenShard, TokenOutOfVocabNamesTokenAndIndex) {
  TempDir dir;
  std::vector<uint32_t> tokens(50, 3);
  tokens[17] = 300;
  tokens[30] = 400;
  write_token_shard(dir.file("o.bin"), tokens, TokenFormat::U16);
  const std::string msg = error_of([&] { TokenShard(dir.file("o.bin"), 256); });
  EXPECT_TRUE(has(msg, "token 300 at index 17"));
  EXPECT_TRUE(has(msg, "vocab size 256"));
  EXPECT_NO_THROW(TokenShard(dir.file("o.bin"), 401));
}

TEST(TokenShard, WriterRejectsTokensTooWideForU16) {
  TempDir dir;
  std::vector<uint32_t> tokens{1, 2, 70000};
  const std::string msg =
      error_of([&] { write_token_shard(dir.file("w.bin"), tokens, TokenFormat::U16); });
  EXPECT_TRUE(has(msg, "token 70000 at index 2"));
  EXPECT_FALSE(std::filesystem::exists(dir.file("w.bin")));
}

}  // namespace
}  // namespace mart
