// Attention forward against an explicit softmax(Q K^T / sqrt(HS) + causal mask) V in double, causal
// masking, and the grouped-query head mapping.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "common/error.h"
#include "kernels/cpu/cpu_kernels.h"
#include "tests/kernels/cpu_test_util.h"

namespace mart::cpu_test {
namespace {

// out[B,T,NH*HS], lse[B,NH,T] the textbook way: full score matrix, -inf above the diagonal.
void naive_attention(Vec& out, Vec& lse, const Vec& qkv, int B, int T, int NH, int NKV, int HS) {
  const int W = (NH + 2 * NKV) * HS;
  out.assign(static_cast<size_t>(B) * T * NH * HS, 0.0);
  lse.assign(static_cast<size_t>(B) * NH * T, 0.0);
  for (int b = 0; b < B; b++) {
    for (int h = 0; h < NH; h++) {
      const int g = h / (NH / NKV);
      for (int t = 0; t < T; t++) {
        std::vector<double> s(T);
        for (int t2 = 0; t2 < T; t2++) {
          double d = 0.0;
          for (int i = 0; i < HS; i++) {
            d += qkv[(b * T + t) * W + h * HS + i] * qkv[(b * T + t2) * W + (NH + g) * HS + i];
          }
          s[t2] = d / std::sqrt(static_cast<double>(HS)) +
                  (t2 > t ? -std::numeric_limits<double>::infinity() : 0.0);
        }
        double mx = -std::numeric_limits<double>::infinity(), sum = 0.0;
        for (double x : s) mx = std::max(mx, x);
        for (double x : s) sum += std::exp(x - mx);
        for (int t2 = 0; t2 < T; t2++) {
          const double p = std::exp(s[t2] - mx) / sum;
          for (int i = 0; i < HS; i++) {
            out[(b * T + t) * NH * HS + h * HS + i] +=
                p * qkv[(b * T + t2) * W + (NH + NKV + g) * HS + i];
          }
        }
        lse[(b * NH + h) * T + t] = mx + std::log(sum);
      }
    }
  }
}

void compare_with_naive(int B, int T, int NH, int NKV, int HS) {
  const int W = (NH + 2 * NKV) * HS;
  const Vec qkv = randv(static_cast<size_t>(B) * T * W, 100 + NH + NKV, -2, 2);
  Vec out(static_cast<size_t>(B) * T * NH * HS), lse(static_cast<size_t>(B) * NH * T);
  cpu::attention_forward(out.data(), lse.data(), qkv.data(), B, T, NH, NKV, HS);
  Vec ref_out, ref_lse;
  naive_attention(ref_out, ref_lse, qkv, B, T, NH, NKV, HS);
  expect_near_all(out, ref_out, 1e-12, "out");
  expect_near_all(lse, ref_lse, 1e-12, "lse");
}

TEST(CpuAttention, MatchesNaiveMultiHead) {
  compare_with_naive(2, 7, 3, 3, 8);
}
TEST(CpuAttention, MatchesNaiveGroupedQuery) {
  compare_with_naive(2, 9, 4, 2, 4);
}
TEST(CpuAttention, MatchesNaiveMultiQuery) {
  compare_with_naive(1, 6, 6, 1, 2);
}

TEST(CpuAttention, FirstTokenAttendsOnlyToItself) {
  const int B = 1, T = 4, NH = 2, NKV = 1, HS = 4, W = (NH + 2 * NKV) * HS;
  const Vec qkv = randv(T * W, 110, -3, 3);
  Vec out(T * NH * HS), lse(NH * T);
  cpu::attention_forward(out.data(), lse.data(), qkv.data(), B, T, NH, NKV, HS);
  for (int h = 0; h < NH; h++) {
    for (int i = 0; i < HS; i++) EXPECT_NEAR(out[h * HS + i], qkv[(NH + NKV) * HS + i], 1e-15);
    // lse of a single score is that score.
    double s = 0.0;
    for (int i = 0; i < HS; i++) s += qkv[h * HS + i] * qkv[NH * HS + i];
    EXPECT_NEAR(lse[h * T], s / 2.0, 1e-14);
  }
}

// Changing token t0's q, k and v must not change any output before t0, nor the other sequence.
TEST(CpuAttention, CausalMask) {
  const int B = 2, T = 8, NH = 4, NKV = 2, HS = 4, W = (NH + 2 * NKV) * HS, t0 = 5;
  const Vec qkv = randv(B * T * W, 120);
  Vec out1(B * T * NH * HS), lse1(B * NH * T), out2 = out1, lse2 = lse1;
  cpu::attention_forward(out1.data(), lse1.data(), qkv.data(), B, T, NH, NKV, HS);
  Vec qkv2 = qkv;
  for (int t = t0; t < T; t++) {
    for (int i = 0; i < W; i++) qkv2[t * W + i] += 0.5;  // batch 0 only
  }
  cpu::attention_forward(out2.data(), lse2.data(), qkv2.data(), B, T, NH, NKV, HS);
  const int OW = NH * HS;
  for (int b = 0; b < B; b++) {
    for (int t = 0; t < T; t++) {
      bool changed = false;
      for (int i = 0; i < OW; i++)
        changed |= out1[(b * T + t) * OW + i] != out2[(b * T + t) * OW + i];
      if (b == 0 && t >= t0) {
        EXPECT_TRUE(changed) << "b=" << b << " t=" << t;
      } else {
        EXPECT_FALSE(changed) << "b=" << b << " t=" << t;
      }
    }
  }
}

// Grouped-query attention equals multi-head attention with each kv head repeated for its group
// (query head h reads kv head h / (NH/NKV), not h % NKV); the backward's dk/dv of a shared head is
// the sum over its group.
TEST(CpuAttention, GroupedQueryEqualsRepeatedHeads) {
  const int B = 2, T = 6, NH = 4, NKV = 2, HS = 4, rep = NH / NKV;
  const int W = (NH + 2 * NKV) * HS, WE = 3 * NH * HS;
  const Vec qkv = randv(B * T * W, 130, -2, 2);
  Vec qkv_e(B * T * WE);
  for (int n = 0; n < B * T; n++) {
    for (int h = 0; h < NH; h++) {
      for (int i = 0; i < HS; i++) {
        qkv_e[n * WE + h * HS + i] = qkv[n * W + h * HS + i];
        qkv_e[n * WE + (NH + h) * HS + i] = qkv[n * W + (NH + h / rep) * HS + i];
        qkv_e[n * WE + (2 * NH + h) * HS + i] = qkv[n * W + (NH + NKV + h / rep) * HS + i];
      }
    }
  }
  Vec out(B * T * NH * HS), lse(B * NH * T), out_e = out, lse_e = lse;
  cpu::attention_forward(out.data(), lse.data(), qkv.data(), B, T, NH, NKV, HS);
  cpu::attention_forward(out_e.data(), lse_e.data(), qkv_e.data(), B, T, NH, NH, HS);
  expect_near_all(out, out_e, 1e-14, "out");
  expect_near_all(lse, lse_e, 1e-14, "lse");

  const Vec dout = randv(out.size(), 131);
  Vec dqkv(qkv.size()), dqkv_e(qkv_e.size());
  cpu::attention_backward(dqkv.data(), dout.data(), qkv.data(), out.data(), lse.data(), B, T, NH,
                          NKV, HS);
  cpu::attention_backward(dqkv_e.data(), dout.data(), qkv_e.data(), out_e.data(), lse_e.data(), B,
                          T, NH, NH, HS);
  for (int n = 0; n < B * T; n++) {
    for (int i = 0; i < HS; i++) {
      for (int h = 0; h < NH; h++) {
        EXPECT_NEAR(dqkv[n * W + h * HS + i], dqkv_e[n * WE + h * HS + i], 1e-13);
      }
      for (int g = 0; g < NKV; g++) {
        double dk = 0.0, dv = 0.0;
        for (int h = g * rep; h < (g + 1) * rep; h++) {
          dk += dqkv_e[n * WE + (NH + h) * HS + i];
          dv += dqkv_e[n * WE + (2 * NH + h) * HS + i];
        }
        EXPECT_NEAR(dqkv[n * W + (NH + g) * HS + i], dk, 1e-13);
        EXPECT_NEAR(dqkv[n * W + (NH + NKV + g) * HS + i], dv, 1e-13);
      }
    }
  }
}

TEST(CpuAttention, RejectsHeadsNotDivisibleByKvHeads) {
  Vec qkv(1 * 2 * (3 + 4) * 4), out(1 * 2 * 3 * 4), lse(3 * 2);
  EXPECT_THROW(cpu::attention_forward(out.data(), lse.data(), qkv.data(), 1, 2, 3, 2, 4),
               mart::Error);
}

}  // namespace
}  // namespace mart::cpu_test
