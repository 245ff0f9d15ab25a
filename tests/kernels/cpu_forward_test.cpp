// Forward kernels against straightforward double loops, plus the properties each op must have
// (rotations preserve norms, ignored targets give nothing, chunking does not change the head).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "common/error.h"
#include "kernels/cpu/cpu_kernels.h"
#include "tests/kernels/cpu_test_util.h"

namespace mart::cpu_test {
namespace {

TEST(CpuForward, Embedding) {
  const int B = 2, T = 3, C = 5, V = 4;
  const std::vector<int32_t> tok = {3, 0, 3, 1, 2, 0};
  const Vec wte = randv(V * C, 1), wpe = randv(T * C, 2);
  Vec out(B * T * C), out_nopos(B * T * C);
  cpu::embedding_forward(out.data(), tok.data(), wte.data(), wpe.data(), B, T, C);
  cpu::embedding_forward(out_nopos.data(), tok.data(), wte.data(), static_cast<double*>(nullptr), B,
                         T, C);
  for (int b = 0; b < B; b++) {
    for (int t = 0; t < T; t++) {
      for (int c = 0; c < C; c++) {
        const int n = b * T + t;
        EXPECT_EQ(out[n * C + c], wte[tok[n] * C + c] + wpe[t * C + c]);
        EXPECT_EQ(out_nopos[n * C + c], wte[tok[n] * C + c]);
      }
    }
  }
  const std::vector<int32_t> bad = {0, -1};
  EXPECT_THROW(cpu::embedding_forward(out.data(), bad.data(), wte.data(), wpe.data(), 1, 2, C),
               mart::Error);
}

TEST(CpuForward, LayerNorm) {
  const int N = 6, C = 9;
  const Vec inp = randv(N * C, 10, -3, 5), w = randv(C, 11), b = randv(C, 12);
  Vec out(N * C), mean(N), rstd(N);
  cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), N, C,
                         1e-5f);
  for (int n = 0; n < N; n++) {
    double m = 0.0, v = 0.0;
    for (int c = 0; c < C; c++) m += inp[n * C + c] / C;
    for (int c = 0; c < C; c++) v += (inp[n * C + c] - m) * (inp[n * C + c] - m) / C;
    const double rs = 1.0 / std::sqrt(v + static_cast<double>(1e-5f));
    EXPECT_NEAR(mean[n], m, 1e-14);
    EXPECT_NEAR(rstd[n], rs, 1e-12);
    for (int c = 0; c < C; c++) {
      EXPECT_NEAR(out[n * C + c], (inp[n * C + c] - m) * rs * w[c] + b[c], 1e-12);
    }
  }
}

TEST(CpuForward, RmsNorm) {
  const int N = 6, C = 9;
  const Vec inp = randv(N * C, 20, -3, 5), w = randv(C, 21);
  Vec out(N * C), rstd(N);
  cpu::rmsnorm_forward(out.data(), rstd.data(), inp.data(), w.data(), N, C, 1e-6f);
  for (int n = 0; n < N; n++) {
    double ms = 0.0;
    for (int c = 0; c < C; c++) ms += inp[n * C + c] * inp[n * C + c] / C;
    const double rs = 1.0 / std::sqrt(ms + static_cast<double>(1e-6f));
    EXPECT_NEAR(rstd[n], rs, 1e-12);
    for (int c = 0; c < C; c++) EXPECT_NEAR(out[n * C + c], inp[n * C + c] * rs * w[c], 1e-12);
  }
}

TEST(CpuForward, Matmul) {
  const int N = 7, IC = 5, OC = 3;
  const Vec inp = randv(N * IC, 30), w = randv(OC * IC, 31), bias = randv(OC, 32);
  Vec out(N * OC), out_nb(N * OC, 123.0);  // without bias, garbage in out must be ignored
  cpu::matmul_forward(out.data(), inp.data(), w.data(), bias.data(), N, IC, OC);
  cpu::matmul_forward(out_nb.data(), inp.data(), w.data(), static_cast<double*>(nullptr), N, IC,
                      OC);
  for (int n = 0; n < N; n++) {
    for (int o = 0; o < OC; o++) {
      double s = 0.0;
      for (int i = 0; i < IC; i++) s += inp[n * IC + i] * w[o * IC + i];
      EXPECT_NEAR(out[n * OC + o], s + bias[o], 1e-14);
      EXPECT_NEAR(out_nb[n * OC + o], s, 1e-14);
    }
  }
}

TEST(CpuForward, MatmulBackwardSkipsNullOutputs) {
  const int N = 4, IC = 3, OC = 2;
  const Vec inp = randv(N * IC, 33), w = randv(OC * IC, 34), dout = randv(N * OC, 35);
  Vec dw(OC * IC, 0.0), db(OC, 0.0);
  cpu::matmul_backward(static_cast<double*>(nullptr), dw.data(), db.data(), dout.data(), inp.data(),
                       w.data(), N, IC, OC);
  for (int o = 0; o < OC; o++) {
    double s = 0.0;
    for (int n = 0; n < N; n++) s += dout[n * OC + o];
    EXPECT_NEAR(db[o], s, 1e-14);
  }
}

TEST(CpuForward, GeluKnownValues) {
  const Vec x = {0.0, 1.0, -2.0, 0.5};
  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), evaluated independently in Python.
  const Vec want = {0.0, 0.8411919906082768, -0.04540230591222494, 0.34571400982514394};
  Vec out(x.size());
  cpu::gelu_forward(out.data(), x.data(), x.size());
  for (size_t i = 0; i < x.size(); i++) EXPECT_NEAR(out[i], want[i], 1e-15) << "x=" << x[i];
}

TEST(CpuForward, SwiGlu) {
  const int N = 3, F = 4;
  const Vec inp = randv(N * 2 * F, 40, -5, 5);
  Vec out(N * F);
  cpu::swiglu_forward(out.data(), inp.data(), N, F);
  for (int n = 0; n < N; n++) {
    for (int f = 0; f < F; f++) {
      const double g = inp[n * 2 * F + f], u = inp[n * 2 * F + F + f];
      EXPECT_NEAR(out[n * F + f], g / (1.0 + std::exp(-g)) * u, 1e-14);
    }
  }
}

TEST(CpuForward, RopeRotation) {
  const int B = 2, T = 6, NH = 2, NKV = 1, HS = 8, W = (NH + 2 * NKV) * HS, half = HS / 2;
  const float theta = 10000.0f;
  const Vec inp = randv(B * T * W, 50);
  Vec out(inp.size());
  cpu::rope_forward(out.data(), inp.data(), B, T, NH, NKV, HS, theta);
  for (int b = 0; b < B; b++) {
    for (int t = 0; t < T; t++) {
      const double* x = inp.data() + (b * T + t) * W;
      const double* o = out.data() + (b * T + t) * W;
      for (int h = 0; h < NH + NKV; h++) {
        for (int j = 0; j < half; j++) {
          const double x1 = x[h * HS + j], x2 = x[h * HS + j + half];
          const double o1 = o[h * HS + j], o2 = o[h * HS + j + half];
          const double a = t * std::pow(static_cast<double>(theta), -2.0 * j / HS);
          EXPECT_NEAR(o1, x1 * std::cos(a) - x2 * std::sin(a), 1e-15);
          EXPECT_NEAR(o2, x2 * std::cos(a) + x1 * std::sin(a), 1e-15);
          // A rotation preserves each pair's norm.
          EXPECT_NEAR(o1 * o1 + o2 * o2, x1 * x1 + x2 * x2, 1e-14);
          if (t == 0) {
            EXPECT_EQ(o1, x1);
            EXPECT_EQ(o2, x2);
          }
        }
      }
      for (int i = (NH + NKV) * HS; i < W; i++) EXPECT_EQ(o[i], x[i]) << "v must be copied";
    }
  }
  // In place gives the same bits; backward undoes forward.
  Vec inplace = inp;
  cpu::rope_forward(inplace.data(), inplace.data(), B, T, NH, NKV, HS, theta);
  EXPECT_TRUE(bitwise_equal(inplace, out));
  Vec back(inp.size());
  cpu::rope_backward(back.data(), out.data(), B, T, NH, NKV, HS, theta);
  expect_near_all(back, inp, 1e-15, "rope_backward(rope_forward(x))");
}

TEST(CpuForward, RopeRejectsOddHeadSize) {
  Vec x(3 * 3);
  EXPECT_THROW(cpu::rope_forward(x.data(), x.data(), 1, 1, 1, 1, 3, 10000.0f), mart::Error);
}

// -log softmax(l)[target] computed without any tricks (fine for moderate logits).
double naive_ce(const double* l, int V, int tgt) {
  double s = 0.0;
  for (int v = 0; v < V; v++) s += std::exp(l[v]);
  return -std::log(std::exp(l[tgt]) / s);
}

TEST(CpuForward, CrossEntropy) {
  const int N = 5, V = 6;
  const std::vector<int32_t> tgt = {2, -1, 5, 0, -100};
  const Vec logits = randv(N * V, 60, -4, 4);
  Vec losses(N, 7.0), l = logits;
  cpu::crossentropy_forward_backward(l.data(), losses.data(), tgt.data(), N, V, 0.0f);
  EXPECT_TRUE(bitwise_equal(l, logits)) << "dloss == 0 must leave the logits untouched";
  for (int n = 0; n < N; n++) {
    if (tgt[n] < 0) {
      EXPECT_EQ(losses[n], 0.0) << "ignored row " << n;
    } else {
      EXPECT_NEAR(losses[n], naive_ce(&logits[n * V], V, tgt[n]), 1e-14);
    }
  }
  // The gradient: dloss * (softmax - onehot); ignored rows all zero.
  const float dloss = 0.25f;
  cpu::crossentropy_forward_backward(l.data(), losses.data(), tgt.data(), N, V, dloss);
  for (int n = 0; n < N; n++) {
    double s = 0.0;
    for (int v = 0; v < V; v++) s += std::exp(logits[n * V + v]);
    for (int v = 0; v < V; v++) {
      const double want = tgt[n] < 0 ? 0.0
                                     : static_cast<double>(dloss) *
                                           (std::exp(logits[n * V + v]) / s - (v == tgt[n]));
      EXPECT_NEAR(l[n * V + v], want, 1e-15) << n << "," << v;
    }
  }
}

TEST(CpuForward, CrossEntropyLargeLogitsAreStable) {
  // exp(1000) overflows a double: only a max-subtracted softmax gets this right.
  const int V = 4;
  const std::vector<int32_t> tgt = {1};
  const Vec base = {0.5, -1.0, 2.0, 0.0};
  Vec big = base, small = base, lb(1), ls(1);
  for (auto& x : big) x += 1000.0;
  cpu::crossentropy_forward_backward(small.data(), ls.data(), tgt.data(), 1, V, 1.0f);
  cpu::crossentropy_forward_backward(big.data(), lb.data(), tgt.data(), 1, V, 1.0f);
  EXPECT_NEAR(lb[0], ls[0], 1e-12);
  EXPECT_TRUE(std::isfinite(lb[0]));
  expect_near_all(big, small, 1e-12, "grad");
}

TEST(CpuForward, CrossEntropyRejectsTargetOutOfRange) {
  const std::vector<int32_t> tgt = {0, 4};
  Vec l(2 * 4), losses(2);
  EXPECT_THROW(cpu::crossentropy_forward_backward(l.data(), losses.data(), tgt.data(), 2, 4, 1.0f),
               mart::Error);
}

// The chunked head equals the unfused matmul -> cross-entropy -> matmul backward, for any chunk
// size, including 1 row, a size that leaves a remainder, and one larger than N.
TEST(CpuForward, ClassifierMatchesUnfused) {
  const int N = 7, C = 5, V = 9;
  const float dloss = 0.5f;
  const std::vector<int32_t> tgt = {0, 8, -1, 3, 3, 7, 1};
  const Vec x = randv(N * C, 70), wout = randv(V * C, 71), dw0 = randv(V * C, 72);
  Vec logits(N * V), ref_losses(N), ref_dx(N * C), ref_dw = dw0;
  cpu::matmul_forward(logits.data(), x.data(), wout.data(), static_cast<double*>(nullptr), N, C, V);
  cpu::crossentropy_forward_backward(logits.data(), ref_losses.data(), tgt.data(), N, V, dloss);
  for (int n = 0; n < N; n++) {
    for (int c = 0; c < C; c++) {
      double s = 0.0;
      for (int v = 0; v < V; v++) s += logits[n * V + v] * wout[v * C + c];
      ref_dx[n * C + c] = s;
    }
  }
  for (int v = 0; v < V; v++) {
    for (int c = 0; c < C; c++) {
      for (int n = 0; n < N; n++) ref_dw[v * C + c] += logits[n * V + v] * x[n * C + c];
    }
  }
  for (int rows : {1, 3, N, N + 4}) {
    SCOPED_TRACE(rows);
    Vec losses(N), dx = nans(N * C), dw = dw0, ws(static_cast<size_t>(rows) * V);
    cpu::classifier_forward_backward(losses.data(), dx.data(), dw.data(), x.data(), wout.data(),
                                     tgt.data(), N, C, V, dloss, ws.data(), rows);
    expect_near_all(losses, ref_losses, 1e-14, "losses");
    expect_near_all(dx, ref_dx, 1e-14, "dx");
    expect_near_all(dw, ref_dw, 1e-14, "dwout");
    // Loss only: no gradient buffers needed.
    Vec losses2(N);
    cpu::classifier_forward_backward(losses2.data(), static_cast<double*>(nullptr),
                                     static_cast<double*>(nullptr), x.data(), wout.data(),
                                     tgt.data(), N, C, V, 0.0f, ws.data(), rows);
    EXPECT_TRUE(bitwise_equal(losses2, losses));
  }
}

}  // namespace
}  // namespace mart::cpu_test
