#include <nlohmann/json.hpp>

#include "runtime/data/data_loader.h"
#include "runtime/data/token_shard.h"
#include "tests/io/fifo_guard.h"
#include "tests/io/io_test_util.h"

namespace mart {
namespace {

using test::error_of;
using test::has;
using test::TempDir;

// Shards whose tokens are their global index (mod vocab), so expected windows are easy to state.
std::vector<std::vector<uint32_t>> make_shards(const TempDir& dir, std::vector<size_t> sizes,
                                               TokenFormat fmt = TokenFormat::U16) {
  std::vector<std::vector<uint32_t>> all;
  uint32_t next = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::vector<uint32_t> t(sizes[i]);
    for (auto& x : t) x = next++ % 1000;
    write_token_shard(dir.file("shard_" + std::to_string(i) + ".bin"), t, fmt);
    all.push_back(std::move(t));
  }
  return all;
}

LoaderOptions opts(int B, int T, int rank = 0, int world = 1) {
  LoaderOptions o;
  o.batch_size = B;
  o.seq_len = T;
  o.rank = rank;
  o.world_size = world;
  o.vocab_size = 1000;
  return o;
}

TEST(DataLoader, SequentialWindowsAcrossShardsWithWrap) {
  TempDir dir;
  // T = 4: shard 0 (13 tokens) has 3 windows, shard 1 (9 tokens) has 2.
  const auto shards = make_shards(dir, {13, 9});
  auto loader = DataLoader::from_shards(dir.file("shard_*.bin"), opts(1, 4));
  ASSERT_EQ(loader.shard_paths().size(), 2u);
  EXPECT_EQ(loader.shard_paths()[0], dir.file("shard_0.bin"));

  std::vector<std::vector<int32_t>> expect;
  for (const auto& s : shards)
    for (size_t w = 0; (w + 1) * 4 + 1 <= s.size(); ++w)
      expect.emplace_back(s.begin() + w * 4, s.begin() + w * 4 + 5);
  ASSERT_EQ(expect.size(), 5u);
  for (int epoch = 0; epoch < 2; ++epoch) {
    for (const auto& e : expect) {
      EXPECT_EQ(loader.state().epoch, static_cast<uint64_t>(epoch));
      const Batch b = loader.next_batch();
      EXPECT_EQ(b.tokens, e);
    }
  }
  EXPECT_EQ(loader.state().epoch, 2u);
}

TEST(DataLoader, InputsAndTargetsAreShifted) {
  TempDir dir;
  make_shards(dir, {200});
  auto loader = DataLoader::from_shards(dir.file("shard_*.bin"), opts(3, 8));
  const Batch b = loader.next_batch();
  const auto in = b.inputs(), tg = b.targets();
  for (int r = 0; r < 3; ++r)
    for (int t = 0; t < 8; ++t) {
      EXPECT_EQ(in[r * 8 + t], r * 8 + t);
      EXPECT_EQ(tg[r * 8 + t], r * 8 + t + 1);
    }
  loader.reset();
  std::vector<int32_t> in2(24), tg2(24);
  loader.next(in2, tg2);
  EXPECT_EQ(in2, in);
  EXPECT_EQ(tg2, tg);
}

TEST(DataLoader, RanksTakeInterleavedWindowsInLockstep) {
  TempDir dir;
  // T = 4: shard 0 has 7 windows -> 3 per rank (tail dropped); shard 1 has 4 -> 2 per rank.
  make_shards(dir, {30, 17});
  auto single = DataLoader::from_shards(dir.file("shard_*.bin"), opts(1, 4));
  auto r0 = DataLoader::from_shards(dir.file("shard_*.bin"), opts(1, 4, 0, 2));
  auto r1 = DataLoader::from_shards(dir.file("shard_*.bin"), opts(1, 4, 1, 2));
  // Windows of the single-rank walk (7 + 4), of which the ranks see 0..5 and 7..10.
  std::vector<std::vector<int32_t>> all;
  for (int i = 0; i < 11; ++i) all.push_back(single.next_batch().tokens);
  const std::vector<int> used{0, 1, 2, 3, 4, 5, 7, 8, 9, 10};
  for (size_t i = 0; i < used.size(); i += 2) {
    EXPECT_EQ(r0.next_batch().tokens, all[used[i]]);
    EXPECT_EQ(r1.next_batch().tokens, all[used[i + 1]]);
  }
  EXPECT_EQ(r0.state().epoch, 1u);
  EXPECT_EQ(r1.state().epoch, 1u);
}

TEST(DataLoader, ShardResumeGivesIdenticalBatches) {
  TempDir dir;
  make_shards(dir, {101, 57, 230}, TokenFormat::U32);
  const LoaderOptions o = opts(3, 7, 1, 2);
  auto a = DataLoader::from_shards(dir.file("shard_*.bin"), o);
  for (int k = 0; k < 5; ++k) a.next_batch();
  const std::string saved = nlohmann::json(a.state()).dump();

  auto b = DataLoader::from_shards(dir.file("shard_*.bin"), o);
  b.restore(nlohmann::json::parse(saved).get<LoaderState>());
  EXPECT_EQ(b.state(), a.state());
  for (int k = 0; k < 20; ++k) ASSERT_EQ(a.next_batch().tokens, b.next_batch().tokens) << k;
  EXPECT_GT(a.state().epoch, 0u);
}

TEST(DataLoader, MarkovResumeGivesIdenticalBatches) {
  auto src = std::make_shared<MarkovSource>(MarkovSpec{32, 2, 3, 1234});
  const LoaderOptions o = opts(4, 64, 0, 1);
  auto a = DataLoader::from_markov(src, 9, o);
  auto fresh = DataLoader::from_markov(src, 9, o);
  for (int k = 0; k < 7; ++k) EXPECT_EQ(a.next_batch().tokens, fresh.next_batch().tokens);
  const LoaderState s = a.state();
  EXPECT_EQ(s.position, 7u * 4 * 64);
  auto b = DataLoader::from_markov(src, 9, o);
  b.restore(nlohmann::json::parse(nlohmann::json(s).dump()).get<LoaderState>());
  for (int k = 0; k < 10; ++k) ASSERT_EQ(a.next_batch().tokens, b.next_batch().tokens) << k;
}

TEST(DataLoader, MarkovRowsAreOverlappingStreamWindows) {
  auto src = std::make_shared<MarkovSource>(MarkovSpec{16, 1, 4, 5});
  MarkovStream stream(src, 11);
  std::vector<uint32_t> ref(2 * 33 * 16);
  stream.read(0, ref);
  auto r1 = DataLoader::from_markov(src, 11, opts(2, 16, 1, 3));
  const Batch b = r1.next_batch();
  // Rank 1 of 3 takes windows 1 and 4: tokens [16, 33) and [64, 81).
  for (int t = 0; t <= 16; ++t) {
    EXPECT_EQ(b.tokens[t], static_cast<int32_t>(ref[16 + t]));
    EXPECT_EQ(b.tokens[17 + t], static_cast<int32_t>(ref[64 + t]));
  }
}

TEST(DataLoader, ErrorsNameTheProblem) {
  TempDir dir;
  EXPECT_TRUE(has(error_of([&] { DataLoader::from_shards(dir.file("none_*.bin"), opts(1, 4)); }),
                  dir.file("none_*.bin")));
  make_shards(dir, {6});
  EXPECT_TRUE(has(error_of([&] { DataLoader::from_shards(dir.file("shard_*.bin"), opts(1, 8)); }),
                  "no shard is long enough"));
  auto loader = DataLoader::from_shards(dir.file("shard_*.bin"), opts(1, 2));
  EXPECT_TRUE(has(error_of([&] { loader.restore(LoaderState{3, 0, 0}); }), "shard 3"));
  EXPECT_TRUE(has(error_of([&] { loader.restore(LoaderState{0, 3, 0}); }), "saved position 3"));
  EXPECT_TRUE(
      has(error_of([&] { nlohmann::json::parse(R"({"shard":0,"epoch":0})").get<LoaderState>(); }),
          "missing field 'position'"));
  LoaderOptions small = opts(1, 4);
  small.vocab_size = 10;  // shard tokens go up to 5 -> fine; Markov with 32 symbols is not
  auto src = std::make_shared<MarkovSource>(MarkovSpec{32, 1, 2, 1});
  EXPECT_TRUE(has(error_of([&] { DataLoader::from_markov(src, 1, small); }), "vocab_size is 10"));
  small.vocab_size = 3;  // token 3 is out of range: refused when the loader is built
  EXPECT_TRUE(has(error_of([&] { DataLoader::from_shards(dir.file("shard_*.bin"), small); }),
                  "token 3 at index 3"));
}

// A bad token in the second shard fails the loader's construction -- before step 1 -- naming the
// shard, the token's index and its value. Before, only the header was checked up front and the
// run died when the walk reached the shard.
TEST(DataLoader, EveryShardsTokensAreCheckedUpFront) {
  TempDir dir;
  write_token_shard(dir.file("shard_0.bin"), std::vector<uint32_t>(40, 7), TokenFormat::U16);
  std::vector<uint32_t> bad(40, 7);
  bad[17] = 999;
  write_token_shard(dir.file("shard_1.bin"), bad, TokenFormat::U16);
  LoaderOptions o = opts(1, 4);
  o.vocab_size = 100;
  const std::string e = error_of([&] { DataLoader::from_shards(dir.file("shard_*.bin"), o); });
  EXPECT_TRUE(has(e, dir.file("shard_1.bin"))) << e;
  EXPECT_TRUE(has(e, "token 999 at index 17 is >= the vocab size 100")) << e;
  // Negative control: with a vocabulary that holds token 999 the same shards load.
  o.vocab_size = 1000;
  EXPECT_NO_THROW(DataLoader::from_shards(dir.file("shard_*.bin"), o));
}

// A FIFO matching the pattern is refused, not read (it would block forever).
TEST(DataLoader, FifoShardIsRefused) {
  TempDir dir;
  write_token_shard(dir.file("shard_0.bin"), std::vector<uint32_t>(40, 7), TokenFormat::U16);
  test::make_fifo(dir.file("shard_1.bin"));
  const std::string e = test::error_without_hang(dir.file("shard_1.bin"), [&] {
    DataLoader::from_shards(dir.file("shard_*.bin"), opts(1, 4));
  });
  EXPECT_TRUE(has(e, dir.file("shard_1.bin") + "' is not a regular file but a FIFO")) << e;
}

}  // namespace
}  // namespace mart
