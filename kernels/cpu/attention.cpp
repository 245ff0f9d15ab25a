// Causal scaled-dot-product attention with grouped-query heads, flash-attention style: the forward
// saves only the row logsumexp, the backward recomputes the probabilities from it. Dot products and
// softmax sums accumulate in double. Every output row is owned by one task, so results do not
// depend on the thread count.
#include <cmath>
#include <cstddef>
#include <vector>

#include "common/error.h"
#include "kernels/cpu/cpu_kernels.h"

namespace mart::cpu {

namespace {
void check_shape(const char* op, int B, int T, int NH, int NKV, int HS) {
  MART_CHECK(B >= 0 && T >= 0 && NH > 0 && NKV > 0 && HS > 0, op, ": bad shape B=", B, " T=", T,
             " NH=", NH, " NKV=", NKV, " HS=", HS);
  MART_CHECK(NH % NKV == 0, op, ": NH=", NH, " is not a multiple of NKV=", NKV,
             " (grouped-query attention shares each kv head among NH/NKV query heads)");
}

template <class S>
double dot(const S* a, const S* b, int n) {
  double s = 0.0;
  for (int i = 0; i < n; i++) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// Offsets into one qkv row of width (NH + 2*NKV) * HS.
struct Layout {
  int NH, NKV, HS;
  size_t row() const { return static_cast<size_t>(NH + 2 * NKV) * HS; }
  size_t q(int h) const { return static_cast<size_t>(h) * HS; }
  size_t k(int g) const { return static_cast<size_t>(NH + g) * HS; }
  size_t v(int g) const { return static_cast<size_t>(NH + NKV + g) * HS; }
};
}  // namespace

// qkv[B,T,(NH+2NKV)*HS] -> out[B,T,NH*HS], lse[B,NH,T].
// out[b,t,h] = sum_{t2<=t} softmax_t2(q.k_t2 / sqrt(HS)) v_t2, with k, v from kv head h/(NH/NKV).
template <class S>
void attention_forward(S* out, S* lse, const S* qkv, int B, int T, int NH, int NKV, int HS) {
  check_shape("attention_forward", B, T, NH, NKV, HS);
  const Layout L{NH, NKV, HS};
  const size_t R = L.row(), OR = static_cast<size_t>(NH) * HS;
  const int rep = NH / NKV;
  const double scale = 1.0 / std::sqrt(static_cast<double>(HS));
#pragma omp parallel
  {
    std::vector<double> score(T > 0 ? T : 1), acc(HS);
    // Row t costs O(t): dynamic scheduling balances the causal triangle.
#pragma omp for collapse(3) schedule(dynamic, 4)
    for (int b = 0; b < B; b++) {
      for (int h = 0; h < NH; h++) {
        for (int t = 0; t < T; t++) {
          const int g = h / rep;
          const S* base = qkv + static_cast<size_t>(b) * T * R;
          const S* q = base + t * R + L.q(h);
          double mx = -INFINITY;
          for (int t2 = 0; t2 <= t; t2++) {
            score[t2] = dot(q, base + t2 * R + L.k(g), HS) * scale;
            if (score[t2] > mx) mx = score[t2];
          }
          double sum = 0.0;
          for (int i = 0; i < HS; i++) acc[i] = 0.0;
          for (int t2 = 0; t2 <= t; t2++) {
            const double p = std::exp(score[t2] - mx);
            sum += p;
            const S* v = base + t2 * R + L.v(g);
            for (int i = 0; i < HS; i++) acc[i] += p * v[i];
          }
          S* o = out + (static_cast<size_t>(b) * T + t) * OR + static_cast<size_t>(h) * HS;
          for (int i = 0; i < HS; i++) o[i] = static_cast<S>(acc[i] / sum);
          lse[(static_cast<size_t>(b) * NH + h) * T + t] = static_cast<S>(mx + std::log(sum));
        }
      }
    }
  }
}

// dqkv[B,T,(NH+2NKV)*HS] (overwritten) from dout[B,T,NH*HS], the forward's qkv, out and
// lse[B,NH,T]. With P = exp(S - lse), dP = dO V^T, D = rowsum(dO * O), dS = P * (dP - D): dQ =
// scale * dS K, dK = scale * dS^T Q, dV = P^T dO (dK, dV summed over the query heads of a group).
template <class S>
void attention_backward(S* dqkv, const S* dout, const S* qkv, const S* out, const S* lse, int B,
                        int T, int NH, int NKV, int HS) {
  check_shape("attention_backward", B, T, NH, NKV, HS);
  const Layout L{NH, NKV, HS};
  const size_t R = L.row(), OR = static_cast<size_t>(NH) * HS;
  const int rep = NH / NKV;
  const double scale = 1.0 / std::sqrt(static_cast<double>(HS));
  auto orow = [&](const S* p, int b, int t, int h) {
    return p + (static_cast<size_t>(b) * T + t) * OR + static_cast<size_t>(h) * HS;
  };
  auto stat = [&](int b, int h, int t) { return (static_cast<size_t>(b) * NH + h) * T + t; };

  // D[b,h,t] = dO . O
  std::vector<double> D(static_cast<size_t>(B) * NH * T);
#pragma omp parallel for collapse(3)
  for (int b = 0; b < B; b++) {
    for (int h = 0; h < NH; h++) {
      for (int t = 0; t < T; t++) {
        D[stat(b, h, t)] = dot(orow(dout, b, t, h), orow(out, b, t, h), HS);
      }
    }
  }

  // dQ: one task per query row.
#pragma omp parallel
  {
    std::vector<double> acc(HS);
#pragma omp for collapse(3) schedule(dynamic, 4)
    for (int b = 0; b < B; b++) {
      for (int h = 0; h < NH; h++) {
        for (int t = 0; t < T; t++) {
          const int g = h / rep;
          const S* base = qkv + static_cast<size_t>(b) * T * R;
          const S* q = base + t * R + L.q(h);
          const S* dO = orow(dout, b, t, h);
          const double l = lse[stat(b, h, t)], d = D[stat(b, h, t)];
          for (int i = 0; i < HS; i++) acc[i] = 0.0;
          for (int t2 = 0; t2 <= t; t2++) {
            const S* k = base + t2 * R + L.k(g);
            const double p = std::exp(dot(q, k, HS) * scale - l);
            const double ds = p * (dot(dO, base + t2 * R + L.v(g), HS) - d);
            for (int i = 0; i < HS; i++) acc[i] += ds * k[i];
          }
          S* dq = dqkv + (static_cast<size_t>(b) * T + t) * R + L.q(h);
          for (int i = 0; i < HS; i++) dq[i] = static_cast<S>(acc[i] * scale);
        }
      }
    }
  }

  // dK, dV: one task per key row; it walks the group's query heads and the later query rows.
#pragma omp parallel
  {
    std::vector<double> acck(HS), accv(HS);
#pragma omp for collapse(3) schedule(dynamic, 4)
    for (int b = 0; b < B; b++) {
      for (int g = 0; g < NKV; g++) {
        for (int t2 = 0; t2 < T; t2++) {
          const S* base = qkv + static_cast<size_t>(b) * T * R;
          const S* k = base + t2 * R + L.k(g);
          const S* v = base + t2 * R + L.v(g);
          for (int i = 0; i < HS; i++) acck[i] = accv[i] = 0.0;
          for (int h = g * rep; h < (g + 1) * rep; h++) {
            for (int t = t2; t < T; t++) {
              const S* q = base + t * R + L.q(h);
              const S* dO = orow(dout, b, t, h);
              const double p =
                  std::exp(dot(q, k, HS) * scale - static_cast<double>(lse[stat(b, h, t)]));
              const double ds = p * (dot(dO, v, HS) - D[stat(b, h, t)]);
              for (int i = 0; i < HS; i++) {
                acck[i] += ds * q[i];
                accv[i] += p * dO[i];
              }
            }
          }
          S* drow = dqkv + (static_cast<size_t>(b) * T + t2) * R;
          for (int i = 0; i < HS; i++) {
            drow[L.k(g) + i] = static_cast<S>(acck[i] * scale);
            drow[L.v(g) + i] = static_cast<S>(accv[i]);
          }
        }
      }
    }
  }
}

template void attention_forward<float>(float*, float*, const float*, int, int, int, int, int);
template void attention_forward<double>(double*, double*, const double*, int, int, int, int, int);
template void attention_backward<float>(float*, const float*, const float*, const float*,
                                        const float*, int, int, int, int, int);
template void attention_backward<double>(double*, const double*, const double*, const double*,
                                         const double*, int, int, int, int, int);

}  // namespace mart::cpu
