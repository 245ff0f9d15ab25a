// Finite-difference gradient checks of every CPU kernel with a backward, in double. The loss is
// L = sum(out * R) for a fixed random R, so the backward runs with dout = R. Buffers the contract
// says are overwritten are pre-filled with NaN (a kernel that reads them fails); buffers it says
// accumulate are pre-filled with random values and the analytic gradient is what was added.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "tests/kernels/cpu_test_util.h"

namespace mart::cpu_test {
namespace {

constexpr int B = 2, T = 5, C = 8;
constexpr int N = B * T;

TEST(CpuGradCheck, Embedding) {
  const int V = 6;
  // Repeated tokens: their gradients must add up.
  std::vector<int32_t> tok = {1, 3, 1, 0, 5, 3, 3, 2, 1, 4};
  Vec wte = randv(V * C, 1), wpe = randv(T * C, 2), R = randv(N * C, 3);
  Vec out(N * C);
  auto loss = [&] {
    cpu::embedding_forward(out.data(), tok.data(), wte.data(), wpe.data(), B, T, C);
    return dot(out, R);
  };
  const Vec dwte0 = randv(V * C, 4), dwpe0 = randv(T * C, 5);
  Vec dwte = dwte0, dwpe = dwpe0;
  cpu::embedding_backward(dwte.data(), dwpe.data(), R.data(), tok.data(), B, T, C);
  expect_grad("wte", wte, added(dwte, dwte0), loss);
  expect_grad("wpe", wpe, added(dwpe, dwpe0), loss);
}

TEST(CpuGradCheck, EmbeddingWithoutPositions) {
  const int V = 6;
  std::vector<int32_t> tok = {1, 3, 1, 0, 5, 3, 3, 2, 1, 4};
  Vec wte = randv(V * C, 1), R = randv(N * C, 3);
  Vec out(N * C);
  auto loss = [&] {
    cpu::embedding_forward(out.data(), tok.data(), wte.data(), static_cast<double*>(nullptr), B, T,
                           C);
    return dot(out, R);
  };
  const Vec dwte0 = randv(V * C, 4);
  Vec dwte = dwte0;
  cpu::embedding_backward(dwte.data(), static_cast<double*>(nullptr), R.data(), tok.data(), B, T,
                          C);
  expect_grad("wte", wte, added(dwte, dwte0), loss);
}

void layernorm_case(bool with_bias) {
  Vec inp = randv(N * C, 10, -2, 2), w = randv(C, 11, 0.5, 1.5), b = randv(C, 12),
      R = randv(N * C, 13);
  Vec out(N * C), mean(N), rstd(N);
  auto loss = [&] {
    cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(),
                           with_bias ? b.data() : nullptr, N, C, 1e-5f);
    return dot(out, R);
  };
  loss();
  const Vec dinp0 = randv(N * C, 14), dw0 = randv(C, 15), db0 = randv(C, 16);
  Vec dinp = dinp0, dw = dw0, db = db0;
  cpu::layernorm_backward(dinp.data(), dw.data(), with_bias ? db.data() : nullptr, R.data(),
                          inp.data(), w.data(), mean.data(), rstd.data(), N, C);
  expect_grad("inp", inp, added(dinp, dinp0), loss);
  expect_grad("w", w, added(dw, dw0), loss);
  if (with_bias) expect_grad("b", b, added(db, db0), loss);
}
TEST(CpuGradCheck, LayerNorm) {
  layernorm_case(true);
}
TEST(CpuGradCheck, LayerNormWithoutBias) {
  layernorm_case(false);
}

TEST(CpuGradCheck, RmsNorm) {
  Vec inp = randv(N * C, 20, -2, 2), w = randv(C, 21, 0.5, 1.5), R = randv(N * C, 22);
  Vec out(N * C), rstd(N);
  auto loss = [&] {
    cpu::rmsnorm_forward(out.data(), rstd.data(), inp.data(), w.data(), N, C, 1e-5f);
    return dot(out, R);
  };
  loss();
  const Vec dinp0 = randv(N * C, 23), dw0 = randv(C, 24);
  Vec dinp = dinp0, dw = dw0;
  cpu::rmsnorm_backward(dinp.data(), dw.data(), R.data(), inp.data(), w.data(), rstd.data(), N, C);
  expect_grad("inp", inp, added(dinp, dinp0), loss);
  expect_grad("w", w, added(dw, dw0), loss);
}

void matmul_case(bool with_bias) {
  const int IC = C, OC = 6;
  Vec inp = randv(N * IC, 30), w = randv(OC * IC, 31), bias = randv(OC, 32), R = randv(N * OC, 33);
  Vec out(N * OC);
  auto loss = [&] {
    cpu::matmul_forward(out.data(), inp.data(), w.data(), with_bias ? bias.data() : nullptr, N, IC,
                        OC);
    return dot(out, R);
  };
  Vec dinp = nans(N * IC);
  const Vec dw0 = randv(OC * IC, 34), db0 = randv(OC, 35);
  Vec dw = dw0, db = db0;
  cpu::matmul_backward(dinp.data(), dw.data(), with_bias ? db.data() : nullptr, R.data(),
                       inp.data(), w.data(), N, IC, OC);
  expect_grad("inp", inp, dinp, loss);
  expect_grad("w", w, added(dw, dw0), loss);
  if (with_bias) expect_grad("bias", bias, added(db, db0), loss);
}
TEST(CpuGradCheck, MatmulWithBias) {
  matmul_case(true);
}
TEST(CpuGradCheck, MatmulWithoutBias) {
  matmul_case(false);
}

void attention_case(int NH, int NKV) {
  const int HS = 4;
  const int W = (NH + 2 * NKV) * HS;
  // Scores of order 1: the softmax is far from uniform and far from one-hot.
  Vec qkv = randv(N * W, 40 + NH * 10 + NKV, -1.5, 1.5), R = randv(N * NH * HS, 41);
  Vec out(N * NH * HS), lse(B * NH * T);
  auto loss = [&] {
    cpu::attention_forward(out.data(), lse.data(), qkv.data(), B, T, NH, NKV, HS);
    return dot(out, R);
  };
  loss();
  Vec dqkv = nans(N * W);
  cpu::attention_backward(dqkv.data(), R.data(), qkv.data(), out.data(), lse.data(), B, T, NH, NKV,
                          HS);
  expect_grad("qkv", qkv, dqkv, loss);
}
TEST(CpuGradCheck, AttentionMultiHead) {
  attention_case(2, 2);
}
TEST(CpuGradCheck, AttentionGroupedQuery) {
  attention_case(4, 2);
}
TEST(CpuGradCheck, AttentionMultiQuery) {
  attention_case(4, 1);
}

TEST(CpuGradCheck, Rope) {
  const int NH = 4, NKV = 2, HS = 4, W = (NH + 2 * NKV) * HS;
  // A small theta so every pair rotates by a sizeable angle within T = 5.
  const float theta = 10.0f;
  Vec inp = randv(N * W, 50), R = randv(N * W, 51), out(N * W);
  auto loss = [&] {
    cpu::rope_forward(out.data(), inp.data(), B, T, NH, NKV, HS, theta);
    return dot(out, R);
  };
  Vec dinp = nans(N * W);
  cpu::rope_backward(dinp.data(), R.data(), B, T, NH, NKV, HS, theta);
  expect_grad("inp", inp, dinp, loss);
  // In place (dinp == dout) gives the same gradient.
  Vec inplace = R;
  cpu::rope_backward(inplace.data(), inplace.data(), B, T, NH, NKV, HS, theta);
  EXPECT_TRUE(bitwise_equal(inplace, dinp));
}

TEST(CpuGradCheck, Gelu) {
  const size_t n = 64;
  Vec inp = randv(n, 60, -4, 4), R = randv(n, 61), out(n);
  auto loss = [&] {
    cpu::gelu_forward(out.data(), inp.data(), n);
    return dot(out, R);
  };
  Vec dinp = nans(n);
  cpu::gelu_backward(dinp.data(), inp.data(), R.data(), n);
  expect_grad("inp", inp, dinp, loss);
}

TEST(CpuGradCheck, SwiGlu) {
  const int F = 5;
  Vec inp = randv(N * 2 * F, 70, -4, 4), R = randv(N * F, 71), out(N * F);
  auto loss = [&] {
    cpu::swiglu_forward(out.data(), inp.data(), N, F);
    return dot(out, R);
  };
  Vec dinp = nans(N * 2 * F);
  cpu::swiglu_backward(dinp.data(), R.data(), inp.data(), N, F);
  expect_grad("inp", inp, dinp, loss);
}

TEST(CpuGradCheck, CrossEntropy) {
  const int V = 7;
  const float dloss = 0.37f;
  std::vector<int32_t> tgt = {3, -1, 0, 6, 2, 2, -5, 1, 4, 0};
  Vec logits = randv(N * V, 80, -3, 3), losses(N);
  auto loss = [&] {
    Vec l = logits;  // dloss == 0 must leave the logits alone; the copy makes the check independent
    cpu::crossentropy_forward_backward(l.data(), losses.data(), tgt.data(), N, V, 0.0f);
    double s = 0.0;
    for (double x : losses) s += x;
    return static_cast<double>(dloss) * s;
  };
  Vec grad = logits;
  cpu::crossentropy_forward_backward(grad.data(), losses.data(), tgt.data(), N, V, dloss);
  expect_grad("logits", logits, grad, loss);
}

TEST(CpuGradCheck, Classifier) {
  const int V = 7, NC = 5;  // 5 rows in chunks of 2: two full chunks and a remainder
  const float dloss = 0.61f;
  std::vector<int32_t> tgt = {3, -1, 0, 6, 2};
  Vec x = randv(NC * C, 90), wout = randv(V * C, 91), losses(NC), ws(2 * V);
  auto loss = [&] {
    cpu::classifier_forward_backward(losses.data(), static_cast<double*>(nullptr),
                                     static_cast<double*>(nullptr), x.data(), wout.data(),
                                     tgt.data(), NC, C, V, 0.0f, ws.data(), 2);
    double s = 0.0;
    for (double l : losses) s += l;
    return static_cast<double>(dloss) * s;
  };
  Vec dx = nans(NC * C);
  const Vec dw0 = randv(V * C, 92);
  Vec dw = dw0;
  cpu::classifier_forward_backward(losses.data(), dx.data(), dw.data(), x.data(), wout.data(),
                                   tgt.data(), NC, C, V, dloss, ws.data(), 2);
  expect_grad("x", x, dx, loss);
  expect_grad("wout", wout, added(dw, dw0), loss);
  // The ignored row gets no gradient.
  for (int c = 0; c < C; c++) EXPECT_EQ(dx[1 * C + c], 0.0);
}

}  // namespace
}  // namespace mart::cpu_test
