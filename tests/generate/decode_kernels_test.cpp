// The CPU decoding ops against the training ops they must agree with: attention_decode of rows
// [p, p+n) after the cache holds rows [0, p) equals attention_forward's rows p..p+n-1 over the
// whole sequence (grouped-query heads, two sequences); rope_forward_at(pos) equals rope_forward's
// rows at those positions bit for bit; logits_forward is the head matmul.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/ops.h"

namespace mart {
namespace {

std::vector<float> ramp(size_t n, uint64_t seed) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    v[i] = static_cast<float>((seed >> 40) % 2001) / 1000.0f - 1.0f;
  }
  return v;
}

TEST(DecodeKernels, CachedAttentionEqualsTheFullAttentionRows) {
  auto ops = make_cpu_ops();
  const int B = 2, T = 11, NH = 4, NKV = 2, HS = 8, W = (NH + 2 * NKV) * HS;
  const auto qkv = ramp(static_cast<size_t>(B) * T * W, 3);
  std::vector<float> full(static_cast<size_t>(B) * T * NH * HS), lse(B * NH * T);
  ops->attention_forward(full.data(), lse.data(), qkv.data(), B, T, NH, NKV, HS);
  for (int wrong : {0, 1}) {
    std::vector<float> kc(static_cast<size_t>(B) * NKV * T * HS), vc(kc.size());
    // Prompt rows [0, 7), then rows 7..10 one at a time (wrong = 1 writes each one slot late).
    auto rows = [&](int p, int n) {
      std::vector<float> r(static_cast<size_t>(B) * n * W);
      for (int b = 0; b < B; ++b)
        std::copy_n(qkv.data() + (static_cast<size_t>(b) * T + p) * W, static_cast<size_t>(n) * W,
                    r.data() + static_cast<size_t>(b) * n * W);
      return r;
    };
    std::vector<float> out(static_cast<size_t>(B) * 7 * NH * HS);
    ops->attention_decode(out.data(), rows(0, 7).data(), kc.data(), vc.data(), B, 7, 0, T, NH, NKV,
                          HS);
    float worst = 0;
    for (int p = 7; p < T; ++p) {
      std::vector<float> o(static_cast<size_t>(B) * NH * HS);
      const int at = p == 7 ? p : std::min(p + wrong, T - 1);
      ops->attention_decode(o.data(), rows(p, 1).data(), kc.data(), vc.data(), B, 1, at, T, NH, NKV,
                            HS);
      for (int b = 0; b < B; ++b)
        for (int i = 0; i < NH * HS; ++i)
          worst = std::max(worst, std::abs(o[b * NH * HS + i] -
                                           full[(static_cast<size_t>(b) * T + p) * NH * HS + i]));
    }
    if (wrong)
      EXPECT_GT(worst, 1e-3f) << "negative control: a late cache slot must change the output";
    else
      EXPECT_LT(worst, 1e-5f);
  }
}

TEST(DecodeKernels, RopeAtAnOffsetIsTheFullSequenceRopeBitForBit) {
  auto ops = make_cpu_ops();
  const int B = 1, T = 9, NH = 4, NKV = 2, HS = 8, W = (NH + 2 * NKV) * HS, p = 5;
  const auto x = ramp(static_cast<size_t>(T) * W, 9);
  std::vector<float> full(x.size());
  ops->rope_forward(full.data(), x.data(), B, T, NH, NKV, HS, 10000.0f);
  std::vector<float> tail(x.begin() + p * W, x.end()), out(tail.size());
  ops->rope_forward_at(out.data(), tail.data(), B, T - p, p, NH, NKV, HS, 10000.0f);
  EXPECT_EQ(out, std::vector<float>(full.begin() + p * W, full.end()));
  ops->rope_forward_at(out.data(), tail.data(), B, T - p, p - 1, NH, NKV, HS, 10000.0f);
  EXPECT_NE(out, std::vector<float>(full.begin() + p * W, full.end())) << "the offset must matter";
}

TEST(DecodeKernels, LogitsAreTheHeadMatmul) {
  auto ops = make_cpu_ops();
  const int N = 3, C = 5, V = 7;
  const auto x = ramp(N * C, 1), w = ramp(V * C, 2);
  std::vector<float> l(N * V);
  ops->logits_forward(l.data(), x.data(), w.data(), N, C, V);
  for (int n = 0; n < N; ++n)
    for (int v = 0; v < V; ++v) {
      double s = 0;
      for (int c = 0; c < C; ++c) s += double(x[n * C + c]) * w[v * C + c];
      EXPECT_NEAR(l[n * V + v], s, 1e-5);
    }
}

}  // namespace
}  // namespace mart
