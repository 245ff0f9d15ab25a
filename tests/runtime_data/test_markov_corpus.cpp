#include <cmath>

#include "runtime/data/markov_corpus.h"
#include "tests/io/io_test_util.h"

namespace mart {
namespace {

using test::error_of;
using test::has;

double h(double p) {
  return p <= 0 || p >= 1 ? 0 : -p * std::log(p) - (1 - p) * std::log(1 - p);
}

TEST(MarkovSource, TwoStateChainMatchesClosedForm) {
  // P(1|0) = a, P(0|1) = b: pi = (b, a) / (a + b), H = pi0 h(a) + pi1 h(b).
  const double a = 0.1, b = 0.4;
  const std::vector<double> table{1 - a, a, b, 1 - b};
  const MarkovSource src(2, 1, table);
  EXPECT_NEAR(src.stationary()[0], 0.8, 1e-12);
  EXPECT_NEAR(src.stationary()[1], 0.2, 1e-12);
  EXPECT_NEAR(src.entropy_rate_nats(), 0.8 * h(a) + 0.2 * h(b), 1e-12);
}

TEST(MarkovSource, RandomTwoStateChainMatchesClosedForm) {
  const MarkovSource src(MarkovSpec{2, 1, 2, 99});
  const double a = src.prob(0, 1), b = src.prob(1, 0);
  EXPECT_NEAR(src.prob(0, 0) + a, 1.0, 1e-15);
  const double pi0 = b / (a + b);
  EXPECT_NEAR(src.stationary()[0], pi0, 1e-12);
  EXPECT_NEAR(src.entropy_rate_nats(), pi0 * h(a) + (1 - pi0) * h(b), 1e-12);
}

TEST(MarkovSource, OrderZeroIsIid) {
  const std::vector<double> p{0.5, 0.25, 0.25};
  const MarkovSource src(3, 0, p);
  EXPECT_EQ(src.num_contexts(), 1u);
  EXPECT_NEAR(src.entropy_rate_nats(), 1.5 * std::log(2.0), 1e-14);
}

TEST(MarkovSource, PeriodicChainConvergesWithZeroEntropy) {
  // Deterministic alternation has period 2: plain power iteration would oscillate forever.
  const std::vector<double> table{0, 1, 1, 0};
  const MarkovSource src(2, 1, table);
  EXPECT_NEAR(src.stationary()[0], 0.5, 1e-12);
  EXPECT_EQ(src.entropy_rate_nats(), 0.0);
  MarkovStream s(std::make_shared<MarkovSource>(src), 5);
  const uint32_t first = s.next();
  for (int i = 1; i < 1000; ++i) EXPECT_EQ(s.next(), (first + i) % 2);
}

TEST(MarkovSource, RandomTablesHaveBranchingSupportAndStationaryPi) {
  const MarkovSpec spec{16, 2, 3, 7};
  const MarkovSource src(spec);
  ASSERT_EQ(src.num_contexts(), 256u);
  for (uint64_t c = 0; c < src.num_contexts(); ++c) {
    int nonzero = 0;
    double total = 0;
    for (uint32_t s = 0; s < 16; ++s) {
      nonzero += src.prob(c, s) > 0;
      total += src.prob(c, s);
    }
    EXPECT_EQ(nonzero, 3);
    EXPECT_NEAR(total, 1.0, 1e-12);
  }
  // pi P == pi.
  std::vector<double> next(src.num_contexts(), 0.0);
  for (uint64_t c = 0; c < src.num_contexts(); ++c)
    for (uint32_t s = 0; s < 16; ++s)
      next[src.next_context(c, s)] += src.stationary()[c] * src.prob(c, s);
  double l1 = 0;
  for (uint64_t c = 0; c < src.num_contexts(); ++c) l1 += std::fabs(next[c] - src.stationary()[c]);
  EXPECT_LT(l1, 1e-11);
  EXPECT_GT(src.entropy_rate_nats(), 0.0);
  EXPECT_LT(src.entropy_rate_nats(), std::log(3.0));
}

TEST(MarkovSource, SameSeedSameTablesDifferentSeedDifferent) {
  const MarkovSource a(MarkovSpec{32, 2, 3, 1234}), b(MarkovSpec{32, 2, 3, 1234}),
      c(MarkovSpec{32, 2, 3, 1235});
  EXPECT_EQ(a.entropy_rate_nats(), b.entropy_rate_nats());
  EXPECT_EQ(a.stationary(), b.stationary());
  EXPECT_NE(a.entropy_rate_nats(), c.entropy_rate_nats());
}

TEST(MarkovSource, RejectsBadShapes) {
  EXPECT_TRUE(has(error_of([] { MarkovSource(MarkovSpec{64, 4, 3, 1}); }), "2^22"));
  EXPECT_TRUE(has(error_of([] { MarkovSource(MarkovSpec{8, 2, 9, 1}); }), "branching"));
  EXPECT_TRUE(has(error_of([] { MarkovSource(MarkovSpec{1, 2, 1, 1}); }), "at least 2"));
  const std::vector<double> bad{0.5, 0.4, 0.5, 0.5};
  EXPECT_TRUE(has(error_of([&] { MarkovSource(2, 1, bad); }), "sum to"));
}

// Average -log P(x_t | previous k tokens) over a long stream, skipping each block's first k
// tokens (the block's initial context, which is not a model transition).
double cross_entropy(const MarkovSource& src, MarkovStream& s, uint64_t n) {
  const uint32_t k = src.order();
  std::vector<uint32_t> toks(n);
  s.read(0, toks);
  double nll = 0;
  uint64_t count = 0;
  for (uint64_t t = 0; t < n; ++t) {
    if (t % MarkovStream::kBlockLength < k) continue;
    const uint64_t ctx = src.context_of(std::span<const uint32_t>(toks.data() + t - k, k));
    nll -= std::log(src.prob(ctx, toks[t]));
    ++count;
  }
  return nll / static_cast<double>(count);
}

TEST(MarkovStream, EmpiricalCrossEntropyApproachesEntropyRate) {
  auto src = std::make_shared<MarkovSource>(MarkovSpec{8, 2, 3, 42});
  MarkovStream s(src, 1);
  const double ce = cross_entropy(*src, s, 1u << 21);
  // Per-token NLL variance is O(1), so the mean over 2M tokens is within ~3e-3 at 4 sigma.
  EXPECT_NEAR(ce, src->entropy_rate_nats(), 0.01)
      << "entropy rate " << src->entropy_rate_nats() << ", empirical " << ce;
}

TEST(MarkovStream, HandChainEmpiricalMatchesClosedForm) {
  const std::vector<double> table{0.9, 0.1, 0.4, 0.6};
  auto src = std::make_shared<MarkovSource>(2, 1, table);
  MarkovStream s(src, 3);
  EXPECT_NEAR(cross_entropy(*src, s, 1u << 20), 0.8 * h(0.1) + 0.2 * h(0.4), 0.005);
}

TEST(MarkovStream, DeterministicAndSeekable) {
  auto src = std::make_shared<MarkovSource>(MarkovSpec{32, 2, 3, 1234});
  const uint64_t n = 3 * MarkovStream::kBlockLength + 100;
  MarkovStream a(src, 7), b(src, 7), c(src, 8);
  std::vector<uint32_t> ta(n), tb(n), tc(n);
  a.read(0, ta);
  for (auto& t : tb) t = b.next();
  c.read(0, tc);
  EXPECT_EQ(ta, tb);
  EXPECT_NE(ta, tc);
  for (uint32_t t : ta) ASSERT_LT(t, 32u);

  // Random access in any order, across block boundaries, reproduces the sequential stream.
  MarkovStream r(src, 7);
  for (uint64_t pos :
       {uint64_t{2} * MarkovStream::kBlockLength - 3, uint64_t{5}, uint64_t{70000}, uint64_t{69999},
        MarkovStream::kBlockLength, uint64_t{0}, uint64_t{3} * MarkovStream::kBlockLength + 1}) {
    std::vector<uint32_t> w(50);
    r.read(pos, w);
    for (size_t i = 0; i < w.size(); ++i) ASSERT_EQ(w[i], ta[pos + i]) << "pos " << pos + i;
    EXPECT_EQ(r.position(), pos + w.size());
  }
  MarkovStream q(src, 7);
  q.seek(12345);
  EXPECT_EQ(q.next(), ta[12345]);
}

}  // namespace
}  // namespace mart
