// CpuOps: each virtual forwards to the float template with the right arguments, plus the few
// things CpuOps does itself (gelu epilogue, classifier chunking, master copy, add/scale/sumsq).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/ops.h"
#include "tests/kernels/cpu_test_util.h"

namespace mart::cpu_test {
namespace {

using FV = std::vector<float>;
FV rf(size_t n, uint64_t seed, double lo = -1, double hi = 1) {
  return randv<float>(n, seed, lo, hi);
}

class CpuOpsTest : public ::testing::Test {
 protected:
  std::unique_ptr<Ops> ops = make_cpu_ops();
};

TEST_F(CpuOpsTest, Identity) {
  EXPECT_EQ(ops->act_dtype(), DType::F32);
  EXPECT_STREQ(ops->name(), "cpu");
}

TEST_F(CpuOpsTest, EmbeddingAndNormsForward) {
  const int B = 2, T = 3, C = 5, N = B * T;
  const std::vector<int32_t> tok = {1, 0, 2, 2, 1, 0};
  const FV wte = rf(3 * C, 1), wpe = rf(T * C, 2), dout = rf(N * C, 3);
  FV a(N * C), b(N * C);
  ops->embedding_forward(a.data(), tok.data(), wte.data(), wpe.data(), B, T, C);
  cpu::embedding_forward(b.data(), tok.data(), wte.data(), wpe.data(), B, T, C);
  EXPECT_TRUE(bitwise_equal(a, b));
  FV dwte1 = rf(3 * C, 4), dwpe1 = rf(T * C, 5), dwte2 = dwte1, dwpe2 = dwpe1;
  ops->embedding_backward(dwte1.data(), dwpe1.data(), dout.data(), tok.data(), B, T, C);
  cpu::embedding_backward(dwte2.data(), dwpe2.data(), dout.data(), tok.data(), B, T, C);
  EXPECT_TRUE(bitwise_equal(dwte1, dwte2));
  EXPECT_TRUE(bitwise_equal(dwpe1, dwpe2));

  const FV x = rf(N * C, 6), w = rf(C, 7), bias = rf(C, 8);
  FV m1(N), r1(N), m2(N), r2(N), o1(N * C), o2(N * C);
  ops->layernorm_forward(o1.data(), m1.data(), r1.data(), x.data(), w.data(), bias.data(), N, C,
                         1e-5f);
  cpu::layernorm_forward(o2.data(), m2.data(), r2.data(), x.data(), w.data(), bias.data(), N, C,
                         1e-5f);
  EXPECT_TRUE(bitwise_equal(o1, o2) && bitwise_equal(m1, m2) && bitwise_equal(r1, r2));
  FV dx1 = rf(N * C, 9), dw1 = rf(C, 10), db1 = rf(C, 11), dx2 = dx1, dw2 = dw1, db2 = db1;
  ops->layernorm_backward(dx1.data(), dw1.data(), db1.data(), dout.data(), x.data(), w.data(),
                          m1.data(), r1.data(), N, C);
  cpu::layernorm_backward(dx2.data(), dw2.data(), db2.data(), dout.data(), x.data(), w.data(),
                          m2.data(), r2.data(), N, C);
  EXPECT_TRUE(bitwise_equal(dx1, dx2) && bitwise_equal(dw1, dw2) && bitwise_equal(db1, db2));

  ops->rmsnorm_forward(o1.data(), r1.data(), x.data(), w.data(), N, C, 1e-6f);
  cpu::rmsnorm_forward(o2.data(), r2.data(), x.data(), w.data(), N, C, 1e-6f);
  EXPECT_TRUE(bitwise_equal(o1, o2) && bitwise_equal(r1, r2));
  ops->rmsnorm_backward(dx1.data(), dw1.data(), dout.data(), x.data(), w.data(), r1.data(), N, C);
  cpu::rmsnorm_backward(dx2.data(), dw2.data(), dout.data(), x.data(), w.data(), r2.data(), N, C);
  EXPECT_TRUE(bitwise_equal(dx1, dx2) && bitwise_equal(dw1, dw2));
}

TEST_F(CpuOpsTest, MatmulWithGeluEpilogue) {
  const int N = 4, IC = 6, OC = 5;
  const FV x = rf(N * IC, 20, -2, 2), w = rf(OC * IC, 21), bias = rf(OC, 22), dout = rf(N * OC, 23);
  FV pre(N * OC), act(N * OC), want_pre(N * OC), want_act(N * OC);
  ops->matmul_forward(pre.data(), act.data(), x.data(), w.data(), bias.data(), N, IC, OC);
  cpu::matmul_forward(want_pre.data(), x.data(), w.data(), bias.data(), N, IC, OC);
  cpu::gelu_forward(want_act.data(), want_pre.data(), want_pre.size());
  EXPECT_TRUE(bitwise_equal(pre, want_pre)) << "out must keep the pre-activation";
  EXPECT_TRUE(bitwise_equal(act, want_act));
  FV plain(N * OC);
  ops->matmul_forward(plain.data(), nullptr, x.data(), w.data(), bias.data(), N, IC, OC);
  EXPECT_TRUE(bitwise_equal(plain, want_pre));

  FV dx1(N * IC), dw1 = rf(OC * IC, 24), db1 = rf(OC, 25), dx2 = dx1, dw2 = dw1, db2 = db1;
  ops->matmul_backward(dx1.data(), dw1.data(), db1.data(), dout.data(), x.data(), w.data(), N, IC,
                       OC);
  cpu::matmul_backward(dx2.data(), dw2.data(), db2.data(), dout.data(), x.data(), w.data(), N, IC,
                       OC);
  EXPECT_TRUE(bitwise_equal(dx1, dx2) && bitwise_equal(dw1, dw2) && bitwise_equal(db1, db2));
}

TEST_F(CpuOpsTest, AttentionRopeActivations) {
  const int B = 2, T = 4, NH = 4, NKV = 2, HS = 4, N = B * T, W = (NH + 2 * NKV) * HS, F = 3;
  const FV qkv = rf(N * W, 30), dout = rf(N * NH * HS, 31);
  FV r1(N * W), r2(N * W);
  ops->rope_forward(r1.data(), qkv.data(), B, T, NH, NKV, HS, 500.0f);
  cpu::rope_forward(r2.data(), qkv.data(), B, T, NH, NKV, HS, 500.0f);
  EXPECT_TRUE(bitwise_equal(r1, r2));
  FV o1(N * NH * HS), o2 = o1, l1(B * NH * T), l2 = l1, d1(N * W), d2(N * W);
  ops->attention_forward(o1.data(), l1.data(), r1.data(), B, T, NH, NKV, HS);
  cpu::attention_forward(o2.data(), l2.data(), r2.data(), B, T, NH, NKV, HS);
  EXPECT_TRUE(bitwise_equal(o1, o2) && bitwise_equal(l1, l2));
  ops->attention_backward(d1.data(), dout.data(), r1.data(), o1.data(), l1.data(), B, T, NH, NKV,
                          HS);
  cpu::attention_backward(d2.data(), dout.data(), r2.data(), o2.data(), l2.data(), B, T, NH, NKV,
                          HS);
  EXPECT_TRUE(bitwise_equal(d1, d2));
  ops->rope_backward(d1.data(), d1.data(), B, T, NH, NKV, HS, 500.0f);
  cpu::rope_backward(d2.data(), d2.data(), B, T, NH, NKV, HS, 500.0f);
  EXPECT_TRUE(bitwise_equal(d1, d2));

  const FV a = rf(N * 2 * F, 32, -3, 3), da = rf(N * 2 * F, 33), ds = rf(N * F, 34);
  FV g1(a.size()), g2(a.size()), s1(N * F), s2(N * F);
  ops->gelu_forward(g1.data(), a.data(), a.size());
  cpu::gelu_forward(g2.data(), a.data(), a.size());
  EXPECT_TRUE(bitwise_equal(g1, g2));
  ops->gelu_backward(g1.data(), a.data(), da.data(), a.size());
  cpu::gelu_backward(g2.data(), a.data(), da.data(), a.size());
  EXPECT_TRUE(bitwise_equal(g1, g2));
  ops->swiglu_forward(s1.data(), a.data(), N, F);
  cpu::swiglu_forward(s2.data(), a.data(), N, F);
  EXPECT_TRUE(bitwise_equal(s1, s2));
  ops->swiglu_backward(g1.data(), ds.data(), a.data(), N, F);
  cpu::swiglu_backward(g2.data(), ds.data(), a.data(), N, F);
  EXPECT_TRUE(bitwise_equal(g1, g2));
}

TEST_F(CpuOpsTest, ClassifierWorkspaceAndChunking) {
  // (8 MiB / 4) / V rows per chunk, at least 1, at most N.
  EXPECT_EQ(ops->classifier_workspace_bytes(10, 100), 10u * 100 * 4);
  EXPECT_EQ(ops->classifier_workspace_bytes(100000, 50257), 41u * 50257 * 4);
  EXPECT_EQ(ops->classifier_workspace_bytes(8, 3000000), 3000000u * 4);

  // V = 40000 rows of 160 kB: 52 rows per chunk, so N = 60 takes two chunks.
  const int N = 60, C = 3, V = 40000;
  ASSERT_EQ(ops->classifier_workspace_bytes(N, V), 52u * V * 4);
  const FV x = rf(N * C, 40), wout = rf(static_cast<size_t>(V) * C, 41);
  auto tgt = randi(N, 42, 0, V);
  tgt[7] = -1;
  FV losses(N), dx(N * C), dw(static_cast<size_t>(V) * C, 0.5f);
  FV ws(ops->classifier_workspace_bytes(N, V) / 4);
  ops->classifier_forward_backward(losses.data(), dx.data(), dw.data(), x.data(), wout.data(),
                                   tgt.data(), N, C, V, 0.25f, ws.data());
  FV wl(N), wdx(N * C), wdw(static_cast<size_t>(V) * C, 0.5f), wws(52 * V);
  cpu::classifier_forward_backward(wl.data(), wdx.data(), wdw.data(), x.data(), wout.data(),
                                   tgt.data(), N, C, V, 0.25f, wws.data(), 52);
  EXPECT_TRUE(bitwise_equal(losses, wl) && bitwise_equal(dx, wdx) && bitwise_equal(dw, wdw));
  EXPECT_EQ(losses[7], 0.0f);
  for (int n = 0; n < N; n++) {
    // About log(40000) = 10.6 for small logits.
    if (n != 7) {
      EXPECT_GT(losses[n], 5.0f);
    }
  }
}

TEST_F(CpuOpsTest, AdamWWithAndWithoutMaster) {
  const size_t n = 1000;
  const FV g = rf(n, 50), p0 = rf(n, 51), m0 = rf(n, 52, -0.1, 0.1), v0 = rf(n, 53, 0, 0.01);
  AdamWHyper h;
  h.lr = 1e-2f;
  h.weight_decay = 0.1f;
  h.step = 3;
  h.grad_scale = 0.5f;
  FV want = p0, wm = m0, wv = v0;
  cpu::adamw_update(want.data(), g.data(), wm.data(), wv.data(), n, h.lr, h.beta1, h.beta2, h.eps,
                    h.weight_decay, h.step, h.grad_scale);

  FV p = p0, m = m0, v = v0;
  ops->adamw_update(p.data(), nullptr, g.data(), m.data(), v.data(), n, h, 7);
  EXPECT_TRUE(bitwise_equal(p, want) && bitwise_equal(m, wm) && bitwise_equal(v, wv));

  FV master = p0, param(n, -99.0f);
  m = m0, v = v0;
  ops->adamw_update(param.data(), master.data(), g.data(), m.data(), v.data(), n, h, 7);
  EXPECT_TRUE(bitwise_equal(master, want)) << "the master copy is what gets updated";
  EXPECT_TRUE(bitwise_equal(param, want)) << "param receives the updated master";
  EXPECT_TRUE(bitwise_equal(m, wm) && bitwise_equal(v, wv));
}

TEST_F(CpuOpsTest, AddScaleSumsq) {
  FV a = {1.0f, 2.0f, -3.0f}, b = {0.5f, -4.0f, 3.0f}, out(3);
  ops->add(out.data(), a.data(), b.data(), 3);
  EXPECT_EQ(out, (FV{1.5f, -2.0f, 0.0f}));
  ops->add(a.data(), a.data(), b.data(), 3);  // out aliases a
  EXPECT_EQ(a, (FV{1.5f, -2.0f, 0.0f}));
  ops->scale(a.data(), -2.0f, 3);
  EXPECT_EQ(a, (FV{-3.0f, 4.0f, -0.0f}));
  float s = -1.0f;
  ops->sumsq(&s, a.data(), 3);
  EXPECT_EQ(s, 25.0f);
  const FV big = rf(10000, 60);
  ops->sumsq(&s, big.data(), big.size());
  EXPECT_EQ(s, static_cast<float>(cpu::sumsq(big.data(), big.size())));
}

}  // namespace
}  // namespace mart::cpu_test
