// Decoding kernels (see decode_kernels.h): attention of new query rows against a KV cache, and the
// head's logits without the loss.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <type_traits>
#include <vector>

#include "common/error.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/decode_kernels.h"

namespace mart::cpu {
namespace {

void check_decode_shape(int B, int T, int pos, int max_T, int NH, int NKV, int HS) {
  MART_CHECK(B > 0 && T > 0 && NH > 0 && NKV > 0 && HS > 0, "attention_decode: bad shape B=", B,
             " T=", T, " NH=", NH, " NKV=", NKV, " HS=", HS);
  MART_CHECK(NH % NKV == 0, "attention_decode: NH=", NH, " is not a multiple of NKV=", NKV);
  MART_CHECK(pos >= 0 && pos + T <= max_T, "attention_decode: positions [", pos, ", ", pos + T,
             ") do not fit the KV cache of ", max_T, " positions");
}

// Cache index of (b, kv head, position): [B, NKV, max_T, HS].
inline size_t cache_at(int b, int h, int t, int NKV, int max_T, int HS) {
  return ((static_cast<size_t>(b) * NKV + h) * max_T + t) * HS;
}

// Copies the k and v heads of the new rows into the cache at positions [pos, pos+T).
template <class S>
void append_kv(const S* qkv, S* k_cache, S* v_cache, int B, int T, int pos, int max_T, int NH,
               int NKV, int HS) {
  const size_t R = static_cast<size_t>(NH + 2 * NKV) * HS;
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      const S* row = qkv + (static_cast<size_t>(b) * T + t) * R;
      for (int h = 0; h < NKV; ++h) {
        const size_t c = cache_at(b, h, pos + t, NKV, max_T, HS);
        std::copy_n(row + static_cast<size_t>(NH + h) * HS, HS, k_cache + c);
        std::copy_n(row + static_cast<size_t>(NH + NKV + h) * HS, HS, v_cache + c);
      }
    }
}

}  // namespace

template <class S>
void attention_decode(S* out, const S* qkv, S* k_cache, S* v_cache, int B, int T, int pos,
                      int max_T, int NH, int NKV, int HS) {
  check_decode_shape(B, T, pos, max_T, NH, NKV, HS);
  append_kv(qkv, k_cache, v_cache, B, T, pos, max_T, NH, NKV, HS);
  const size_t R = static_cast<size_t>(NH + 2 * NKV) * HS;
  const int group = NH / NKV;
  const S scale = static_cast<S>(1.0 / std::sqrt(static_cast<double>(HS)));
  const int tasks = B * T * NH;
#pragma omp parallel
  {
    std::vector<S> p(static_cast<size_t>(pos + T));
#pragma omp for
    for (int task = 0; task < tasks; ++task) {
      const int h = task % NH, t = (task / NH) % T, b = task / (NH * T);
      const int kv = h / group, n_keys = pos + t + 1;  // causal: keys 0..pos+t
      const S* q = qkv + (static_cast<size_t>(b) * T + t) * R + static_cast<size_t>(h) * HS;
      const S* K = k_cache + cache_at(b, kv, 0, NKV, max_T, HS);
      const S* V = v_cache + cache_at(b, kv, 0, NKV, max_T, HS);
      S mx = -INFINITY;
      for (int j = 0; j < n_keys; ++j) {
        S s = 0;
        for (int d = 0; d < HS; ++d) s += q[d] * K[static_cast<size_t>(j) * HS + d];
        p[j] = s * scale;
        mx = std::max(mx, p[j]);
      }
      S sum = 0;
      for (int j = 0; j < n_keys; ++j) {
        p[j] = std::exp(p[j] - mx);
        sum += p[j];
      }
      S* o = out + (static_cast<size_t>(b) * T + t) * NH * HS + static_cast<size_t>(h) * HS;
      std::fill_n(o, HS, S(0));
      for (int j = 0; j < n_keys; ++j) {
        const S w = p[j] / sum;
        for (int d = 0; d < HS; ++d) o[d] += w * V[static_cast<size_t>(j) * HS + d];
      }
    }
  }
}

template <class S>
void logits_forward(float* logits, const S* x, const S* wout, int N, int C, int V) {
  MART_CHECK(N >= 0 && C > 0 && V > 0, "logits_forward: bad shape N=", N, " C=", C, " V=", V);
  if constexpr (std::is_same_v<S, float>) {
    matmul_forward<float>(logits, x, wout, nullptr, N, C, V);  // the training head's gemm
  } else {
#pragma omp parallel for
    for (int n = 0; n < N; ++n)
      for (int v = 0; v < V; ++v) {
        S s = 0;
        for (int c = 0; c < C; ++c)
          s += x[static_cast<size_t>(n) * C + c] * wout[static_cast<size_t>(v) * C + c];
        logits[static_cast<size_t>(n) * V + v] = static_cast<float>(s);
      }
  }
}

template void attention_decode<float>(float*, const float*, float*, float*, int, int, int, int, int,
                                      int, int);
template void attention_decode<double>(double*, const double*, double*, double*, int, int, int, int,
                                       int, int, int);
template void logits_forward<float>(float*, const float*, const float*, int, int, int);
template void logits_forward<double>(float*, const double*, const double*, int, int, int);

}  // namespace mart::cpu
