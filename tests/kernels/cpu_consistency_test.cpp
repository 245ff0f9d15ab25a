// Cross-cutting properties of the CPU kernels: float agrees with double, and every result is
// bitwise the same for 1, 2 and 3 OpenMP threads (fixed partitioning of every reduction).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "tests/kernels/cpu_test_util.h"

namespace mart::cpu_test {
namespace {

// Shapes big enough to split across threads, with widths that are not multiples of the kernels'
// 64-column blocks.
constexpr int B = 2, T = 33, C = 200, N = B * T, V = 50, OC = 72, F = 40;
constexpr int NH = 4, NKV = 2, HS = 16, W = (NH + 2 * NKV) * HS;

template <class S>
using Outputs = std::vector<std::pair<std::string, std::vector<S>>>;

// Runs every kernel forward and backward on fixed random inputs; returns every output buffer.
template <class S>
Outputs<S> run_all() {
  Outputs<S> res;
  auto in = [](size_t n, uint64_t seed, double lo = -1, double hi = 1) {
    // Generated as float so the float and double runs see identical inputs.
    const auto f = randv<float>(n, seed, lo, hi);
    return std::vector<S>(f.begin(), f.end());
  };
  auto keep = [&](const char* name, const std::vector<S>& v) { res.emplace_back(name, v); };

  // embedding, with many repeated tokens
  const auto tok = randi(N, 1, 0, 7);
  const auto wte = in(7 * C, 2), wpe = in(T * C, 3), demb = in(N * C, 4);
  std::vector<S> emb(N * C), dwte = in(7 * C, 5), dwpe = in(T * C, 6);
  cpu::embedding_forward(emb.data(), tok.data(), wte.data(), wpe.data(), B, T, C);
  cpu::embedding_backward(dwte.data(), dwpe.data(), demb.data(), tok.data(), B, T, C);
  keep("embedding_out", emb);
  keep("dwte", dwte);
  keep("dwpe", dwpe);

  // layernorm / rmsnorm
  const auto x = in(N * C, 10, -2, 3), w = in(C, 11, 0.5, 1.5), b = in(C, 12), dy = in(N * C, 13);
  std::vector<S> y(N * C), mean(N), rstd(N), dx = in(N * C, 14), dw = in(C, 15), db = in(C, 16);
  cpu::layernorm_forward(y.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C,
                         1e-5f);
  cpu::layernorm_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(),
                          mean.data(), rstd.data(), N, C);
  keep("ln_out", y);
  keep("ln_mean", mean);
  keep("ln_rstd", rstd);
  keep("ln_dinp", dx);
  keep("ln_dw", dw);
  keep("ln_db", db);
  std::vector<S> ry(N * C), rrstd(N), rdx = in(N * C, 17), rdw = in(C, 18);
  cpu::rmsnorm_forward(ry.data(), rrstd.data(), x.data(), w.data(), N, C, 1e-5f);
  cpu::rmsnorm_backward(rdx.data(), rdw.data(), dy.data(), x.data(), w.data(), rrstd.data(), N, C);
  keep("rms_out", ry);
  keep("rms_rstd", rrstd);
  keep("rms_dinp", rdx);
  keep("rms_dw", rdw);

  // matmul
  const auto mw = in(OC * C, 20), mb = in(OC, 21), mdy = in(N * OC, 22);
  std::vector<S> my(N * OC), mdx(N * C), mdw = in(OC * C, 23), mdb = in(OC, 24);
  cpu::matmul_forward(my.data(), x.data(), mw.data(), mb.data(), N, C, OC);
  cpu::matmul_backward(mdx.data(), mdw.data(), mdb.data(), mdy.data(), x.data(), mw.data(), N, C,
                       OC);
  keep("mm_out", my);
  keep("mm_dinp", mdx);
  keep("mm_dw", mdw);
  keep("mm_db", mdb);

  // rope + attention
  const auto qkv_raw = in(N * W, 30, -2, 2), ady = in(N * NH * HS, 31);
  std::vector<S> qkv(N * W), ao(N * NH * HS), lse(B * NH * T), dqkv(N * W), dqkv_raw(N * W);
  cpu::rope_forward(qkv.data(), qkv_raw.data(), B, T, NH, NKV, HS, 10000.0f);
  cpu::attention_forward(ao.data(), lse.data(), qkv.data(), B, T, NH, NKV, HS);
  cpu::attention_backward(dqkv.data(), ady.data(), qkv.data(), ao.data(), lse.data(), B, T, NH, NKV,
                          HS);
  cpu::rope_backward(dqkv_raw.data(), dqkv.data(), B, T, NH, NKV, HS, 10000.0f);
  keep("rope_out", qkv);
  keep("attn_out", ao);
  keep("attn_lse", lse);
  keep("attn_dqkv", dqkv);
  keep("rope_dinp", dqkv_raw);

  // gelu / swiglu
  const auto ga = in(N * F * 2, 40, -4, 4), gd = in(N * F * 2, 41), sd = in(N * F, 42);
  std::vector<S> go(N * F * 2), gdx(N * F * 2), so(N * F), sdx(N * F * 2);
  cpu::gelu_forward(go.data(), ga.data(), go.size());
  cpu::gelu_backward(gdx.data(), ga.data(), gd.data(), gdx.size());
  cpu::swiglu_forward(so.data(), ga.data(), N, F);
  cpu::swiglu_backward(sdx.data(), sd.data(), ga.data(), N, F);
  keep("gelu_out", go);
  keep("gelu_dinp", gdx);
  keep("swiglu_out", so);
  keep("swiglu_dinp", sdx);

  // cross-entropy and the classifier (chunks of 16 rows: 5 chunks, the last partial)
  auto tgt = randi(N, 50, 0, V);
  tgt[3] = -1;
  const auto logits0 = in(N * V, 51, -3, 3), wout = in(V * C, 52, -0.2, 0.2);
  std::vector<S> logits = logits0, losses(N), closs(N), cdx(N * C), cdw = in(V * C, 53);
  std::vector<S> ws(16 * V);
  cpu::crossentropy_forward_backward(logits.data(), losses.data(), tgt.data(), N, V, 0.5f);
  cpu::classifier_forward_backward(closs.data(), cdx.data(), cdw.data(), x.data(), wout.data(),
                                   tgt.data(), N, C, V, 0.5f, ws.data(), 16);
  keep("ce_losses", losses);
  keep("ce_dlogits", logits);
  keep("cls_losses", closs);
  keep("cls_dx", cdx);
  keep("cls_dw", cdw);

  // adamw
  std::vector<S> p = in(5000, 60), g = in(5000, 61), m = in(5000, 62, -0.1, 0.1),
                 v = in(5000, 63, 0.0, 0.01);
  cpu::adamw_update(p.data(), g.data(), m.data(), v.data(), p.size(), 1e-3f, 0.9f, 0.95f, 1e-8f,
                    0.1f, 7, 0.5f);
  keep("adam_p", p);
  keep("adam_m", m);
  keep("adam_v", v);
  return res;
}

TEST(CpuConsistency, FloatAgreesWithDouble) {
  const auto d = run_all<double>();
  const auto f = run_all<float>();
  ASSERT_EQ(d.size(), f.size());
  for (size_t k = 0; k < d.size(); k++) {
    const auto& [name, dv] = d[k];
    const auto& fv = f[k].second;
    ASSERT_EQ(dv.size(), fv.size()) << name;
    double worst = 0.0;
    for (size_t i = 0; i < dv.size(); i++) {
      const double err = std::fabs(fv[i] - dv[i]) / std::max(1.0, std::fabs(dv[i]));
      if (!(err <= worst)) worst = err;
    }
    // sgemm sums hundreds of products in float (blocked, maybe FMA); the rest accumulate in double.
    const bool gemm = name.rfind("mm_", 0) == 0 || name.rfind("cls_", 0) == 0;
    EXPECT_LT(worst, gemm ? 5e-5 : 3e-6) << name;
  }
}

TEST(CpuConsistency, BitwiseIndependentOfThreadCount) {
  Outputs<float> ref;
  {
    OmpThreads one(1);
    ref = run_all<float>();
  }
  for (int threads : {2, 3}) {
    OmpThreads scoped(threads);
    const auto got = run_all<float>();
    ASSERT_EQ(got.size(), ref.size());
    for (size_t k = 0; k < ref.size(); k++) {
      EXPECT_TRUE(bitwise_equal(got[k].second, ref[k].second))
          << got[k].first << " differs with " << threads << " threads";
    }
  }
}

TEST(CpuConsistency, SumsqFixedBlockOrder) {
  // Values of wildly different magnitudes, so that a different summation order changes the bits.
  const size_t n = 3 * 4096 + 1234;
  auto x = randv<float>(n, 70, -1, 1);
  for (size_t i = 0; i < n; i += 97) x[i] *= 1e4f;
  // The documented order: per 4096-element block, 8 lanes (element i in lane i % 8, counted from
  // the block start) summed in order, the lanes added in order; then the blocks in order.
  double want = 0.0;
  for (size_t b0 = 0; b0 < n; b0 += 4096) {
    double lane[8] = {};
    for (size_t i = b0; i < std::min(n, b0 + 4096); i++)
      lane[(i - b0) % 8] += static_cast<double>(x[i]) * x[i];
    double s = 0.0;
    for (double v : lane) s += v;
    want += s;
  }
  // Negative control: one running sum per block (the order before the lanes) differs in the bits.
  double one_chain = 0.0;
  for (size_t b0 = 0; b0 < n; b0 += 4096) {
    double s = 0.0;
    for (size_t i = b0; i < std::min(n, b0 + 4096); i++) s += static_cast<double>(x[i]) * x[i];
    one_chain += s;
  }
  EXPECT_NE(one_chain, want);
  for (int threads : {1, 2, 3}) {
    OmpThreads scoped(threads);
    const double got = cpu::sumsq(x.data(), n);
    EXPECT_EQ(got, want) << threads << " threads";
  }
  EXPECT_EQ(cpu::sumsq(x.data(), 0), 0.0);
  const std::vector<double> three = {1.0, -2.0, 3.0};
  EXPECT_EQ(cpu::sumsq(three.data(), three.size()), 14.0);
}

}  // namespace
}  // namespace mart::cpu_test
