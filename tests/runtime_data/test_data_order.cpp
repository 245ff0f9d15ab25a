// data.order: random windows (nanoGPT's get_batch), a per-epoch shuffle, deterministic from the
// seed and resumable bitwise; the permutation and the counter hash underneath.
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "runtime/data/data_loader.h"
#include "runtime/data/token_shard.h"
#include "runtime/data/window_order.h"
#include "tests/io/io_test_util.h"

namespace mart {
namespace {

using test::error_of;
using test::has;
using test::TempDir;

// Shard i holds consecutive integers starting at i * 10000, so a row tells its shard and offset.
void make_shards(const TempDir& dir, std::vector<size_t> sizes) {
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::vector<uint32_t> t(sizes[i]);
    for (size_t k = 0; k < t.size(); ++k) t[k] = static_cast<uint32_t>(i * 10000 + k);
    write_token_shard(dir.file("shard_" + std::to_string(i) + ".bin"), t, TokenFormat::U32);
  }
}

LoaderOptions opts(DataOrder order, int T, uint64_t seed = 7, int rank = 0, int world = 1) {
  LoaderOptions o;
  o.batch_size = 1;
  o.seq_len = T;
  o.rank = rank;
  o.world_size = world;
  o.vocab_size = 100000;
  o.order = order;
  o.seed = seed;
  return o;
}

std::vector<int32_t> row(DataLoader& l) {
  return l.next_batch().tokens;
}

bool consecutive(const std::vector<int32_t>& r) {
  for (size_t i = 1; i < r.size(); ++i)
    if (r[i] != r[i - 1] + 1) return false;
  return true;
}

TEST(IndexPermutation, IsABijectionForManySizes) {
  for (uint64_t n : {1ull, 2ull, 3ull, 7ull, 64ull, 100ull, 1000ull, 4097ull}) {
    IndexPermutation p(n, 12345);
    std::set<uint64_t> seen;
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t v = p(i);
      ASSERT_LT(v, n);
      seen.insert(v);
    }
    EXPECT_EQ(seen.size(), n) << n;
  }
  // Negative control: another key gives another order (it is not the identity either).
  IndexPermutation a(1000, 1), b(1000, 2);
  int same = 0, fixed = 0;
  for (uint64_t i = 0; i < 1000; ++i) same += a(i) == b(i), fixed += a(i) == i;
  EXPECT_LT(same, 20);
  EXPECT_LT(fixed, 20);
}

// Rows are T+1 consecutive tokens of one shard starting at any offset (not only multiples of T),
// the shard drawn in proportion to its windows; the same seed gives the same rows.
TEST(DataOrder, RandomRowsAreUniformWindowsOfTheShards) {
  TempDir dir;
  make_shards(dir, {1008, 3008});  // T = 8: 1000 and 3000 start offsets
  auto a = DataLoader::from_shards(dir.file("shard_*.bin"), opts(DataOrder::Random, 8));
  auto again = DataLoader::from_shards(dir.file("shard_*.bin"), opts(DataOrder::Random, 8));
  auto other = DataLoader::from_shards(dir.file("shard_*.bin"), opts(DataOrder::Random, 8, 8));
  int in_second = 0, unaligned = 0, differ = 0;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    const auto r = row(a);
    ASSERT_EQ(r.size(), 9u);
    ASSERT_TRUE(consecutive(r)) << i;
    const int shard = r[0] / 10000, offset = r[0] % 10000;
    ASSERT_LE(offset, shard == 0 ? 999 : 2999);
    in_second += shard == 1;
    unaligned += offset % 8 != 0;
    EXPECT_EQ(r, row(again));
    differ += r != row(other);
  }
  EXPECT_NEAR(in_second / double(n), 0.75, 0.03);  // 3000 of 4000 offsets
  EXPECT_GT(unaligned, n / 2);                     // not the sequential windows
  EXPECT_GT(differ, n * 9 / 10);                   // another seed reads other windows
  EXPECT_EQ(a.state().index, static_cast<uint64_t>(n));
  EXPECT_EQ(a.state().order, DataOrder::Random);
}

// Shuffle: each epoch is a permutation of all sequential windows, a different one per epoch; with
// two ranks the epoch is split between them, disjoint.
TEST(DataOrder, ShuffleIsAPermutationPerEpochAndRanksAreDisjoint) {
  TempDir dir;
  make_shards(dir, {41, 25});  // T = 4: 10 + 6 = 16 windows
  auto seq = DataLoader::from_shards(dir.file("shard_*.bin"), opts(DataOrder::Sequential, 4));
  std::set<std::vector<int32_t>> windows;
  for (int i = 0; i < 16; ++i) windows.insert(row(seq));
  ASSERT_EQ(windows.size(), 16u);

  auto sh = DataLoader::from_shards(dir.file("shard_*.bin"), opts(DataOrder::Shuffle, 4));
  EXPECT_EQ(sh.windows_per_epoch(), 16u);
  std::vector<std::vector<int32_t>> e0, e1;
  for (int i = 0; i < 16; ++i) e0.push_back(row(sh));
  EXPECT_EQ(sh.state().epoch, 1u);
  for (int i = 0; i < 16; ++i) e1.push_back(row(sh));
  EXPECT_EQ(std::set(e0.begin(), e0.end()), windows);
  EXPECT_EQ(std::set(e1.begin(), e1.end()), windows);
  EXPECT_NE(e0, e1);  // a fresh permutation each epoch
  std::vector<std::vector<int32_t>> in_order(windows.begin(), windows.end());
  EXPECT_NE(e0, in_order);

  auto r0 = DataLoader::from_shards(dir.file("shard_*.bin"), opts(DataOrder::Shuffle, 4, 7, 0, 2));
  auto r1 = DataLoader::from_shards(dir.file("shard_*.bin"), opts(DataOrder::Shuffle, 4, 7, 1, 2));
  std::set<std::vector<int32_t>> both;
  for (int i = 0; i < 8; ++i) {
    const auto a = row(r0), b = row(r1);
    EXPECT_EQ(a, e0[2 * i]);  // the single-rank permutation, dealt out by slot
    EXPECT_EQ(b, e0[2 * i + 1]);
    both.insert(a), both.insert(b);
  }
  EXPECT_EQ(both, windows);
}

TEST(DataOrder, RandomRanksReadDifferentWindows) {
  TempDir dir;
  make_shards(dir, {5000});
  auto r0 = DataLoader::from_shards(dir.file("shard_*.bin"), opts(DataOrder::Random, 16, 3, 0, 2));
  auto r1 = DataLoader::from_shards(dir.file("shard_*.bin"), opts(DataOrder::Random, 16, 3, 1, 2));
  int same = 0;
  for (int i = 0; i < 200; ++i) same += row(r0) == row(r1);
  EXPECT_LT(same, 5);
}

// Saved after k batches (as JSON, as trainer_state.json holds it) and restored into a fresh
// loader, every order continues with exactly the batches an uninterrupted loader reads.
TEST(DataOrder, EveryOrderResumesBitwise) {
  TempDir dir;
  make_shards(dir, {301, 77, 530});
  auto src = std::make_shared<MarkovSource>(MarkovSpec{32, 2, 3, 1234});
  for (DataOrder order : {DataOrder::Random, DataOrder::Shuffle, DataOrder::Sequential}) {
    for (bool markov : {false, true}) {
      LoaderOptions o = opts(order, 7, 99, 1, 2);
      o.batch_size = 3;
      auto make = [&] {
        return markov ? DataLoader::from_markov(src, 5, o)
                      : DataLoader::from_shards(dir.file("shard_*.bin"), o);
      };
      auto a = make();
      for (int k = 0; k < 30; ++k) a.next_batch();  // shards: past an epoch for shuffle
      const std::string saved = nlohmann::json(a.state()).dump();
      auto b = make();
      b.restore(nlohmann::json::parse(saved).get<LoaderState>());
      EXPECT_EQ(b.state(), a.state());
      for (int k = 0; k < 40; ++k)
        ASSERT_EQ(a.next_batch().tokens, b.next_batch().tokens)
            << data_order_name(order) << (markov ? " markov " : " shards ") << k;
      // Negative control: a fresh loader (not restored) reads other batches.
      auto c = make();
      EXPECT_NE(c.next_batch().tokens, a.next_batch().tokens) << data_order_name(order);
    }
  }
}

TEST(DataOrder, MarkovRandomRowsAreStreamBlocks) {
  auto src = std::make_shared<MarkovSource>(MarkovSpec{16, 1, 4, 5});
  auto l = DataLoader::from_markov(src, 11, opts(DataOrder::Random, 16));
  const auto r = row(l);
  MarkovStream stream(src, 11);
  std::vector<uint32_t> ref(17);
  // The row is the start of one of the stream's blocks: find it by the counter draw.
  const uint64_t block = uniform_below(counter_hash(7, 0, 0), uint64_t{1} << 40);
  stream.read(block * MarkovStream::kBlockLength, ref);
  for (int t = 0; t <= 16; ++t) EXPECT_EQ(r[t], static_cast<int32_t>(ref[t]));
}

// A state written before data.order existed has no "order"/"index": it reads as sequential and
// restores into a sequential loader; into a random one it is refused, naming both orders.
TEST(DataOrder, OldStatesReadAsSequential) {
  TempDir dir;
  make_shards(dir, {200});
  const LoaderState old =
      nlohmann::json::parse(R"({"shard":0,"position":8,"epoch":0})").get<LoaderState>();
  EXPECT_EQ(old.order, DataOrder::Sequential);
  EXPECT_EQ(old.index, 0u);
  auto seq = DataLoader::from_shards(dir.file("shard_*.bin"), opts(DataOrder::Sequential, 4));
  seq.restore(old);
  EXPECT_EQ(row(seq)[0], 8);
  auto rnd = DataLoader::from_shards(dir.file("shard_*.bin"), opts(DataOrder::Random, 4));
  const std::string e = error_of([&] { rnd.restore(old); });
  EXPECT_TRUE(has(e, "data.order = sequential")) << e;
  EXPECT_TRUE(has(e, "--set data.order=sequential")) << e;
  EXPECT_TRUE(has(error_of([] { parse_data_order("shuffled", "data.order"); }),
                  "data.order = 'shuffled': unknown"));
  auto sh = DataLoader::from_shards(dir.file("shard_*.bin"), opts(DataOrder::Shuffle, 4, 7, 0, 2));
  LoaderState bad = sh.state();
  bad.index = 1;  // rank 1's slot
  EXPECT_TRUE(has(error_of([&] { sh.restore(bad); }), "not a slot of rank 0"));
}

}  // namespace
}  // namespace mart
