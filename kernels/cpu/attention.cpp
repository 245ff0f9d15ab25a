// Causal scaled-dot-product attention with grouped-query heads, built on BLAS GEMMs (cblas_sgemm
// for float, cblas_dgemm for the double reference backend) over query tiles, flash-attention style:
// the forward saves only the row logsumexp, the backward recomputes the probabilities from it.
//
// Per (batch b, query head h) and query tile of kQueryTile rows [q0, q0+nq), only the keys
// [0, q0+nq) can be visible (causal), so every key beyond the tile's last row is skipped and the
// scratch is one nq x (q0+nq) score block per thread (bounded by kQueryTile x T, never T x T).
//
// Determinism: every output element is produced by one task in a fixed order of operations that
// does not depend on the thread count: the forward owns (b, h, query tile) rows; the backward owns
// a whole (b, kv head g) and accumulates the group's dK/dV over its query heads, then query tiles,
// in ascending order. The GEMMs run single-threaded inside the OpenMP tasks (see BlasSerial).
#include <cblas.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/error.h"
#include "kernels/cpu/blas_gemm.h"
#include "kernels/cpu/cpu_kernels.h"

namespace mart::cpu {

namespace {

// Query rows per tile. 64 keeps the two GEMMs of a tile large enough for BLAS to run near peak at
// head size 32, the per-thread scratch (2 x 64 x T scalars in the backward) inside L2 for T up to
// ~1-2k, and the wasted upper triangle of the diagonal block small.
constexpr int kQueryTile = 64;

void check_shape(const char* op, int B, int T, int NH, int NKV, int HS) {
  MART_CHECK(B >= 0 && T >= 0 && NH > 0 && NKV > 0 && HS > 0, op, ": bad shape B=", B, " T=", T,
             " NH=", NH, " NKV=", NKV, " HS=", HS);
  MART_CHECK(NH % NKV == 0, op, ": NH=", NH, " is not a multiple of NKV=", NKV,
             " (grouped-query attention shares each kv head among NH/NKV query heads)");
}

// Makes OpenBLAS single-threaded for the lifetime of the object. Debian's OpenBLAS is the pthreads
// build: called from inside our OpenMP workers, every GEMM above its size threshold (M*N*K > 256k,
// e.g. a 64 x 1024 x 32 score block) would fan out to its own thread pool, oversubscribing the
// cores and serialising the callers on the pool's lock. The OpenMP build of OpenBLAS already runs
// serially inside a parallel region, and its openblas_set_num_threads would also change OpenMP's
// thread count, so it is left alone. Results do not depend on this: OpenBLAS splits a GEMM's M and
// N among threads, never K, so each output element sums in the same order either way.
class BlasSerial {
 public:
  BlasSerial() : saved_(openblas_get_parallel() == 1 ? openblas_get_num_threads() : 1) {
    if (saved_ > 1) openblas_set_num_threads(1);
  }
  ~BlasSerial() {
    if (saved_ > 1) openblas_set_num_threads(saved_);
  }
  BlasSerial(const BlasSerial&) = delete;
  BlasSerial& operator=(const BlasSerial&) = delete;

 private:
  int saved_;
};

// ---- The softmax's row loops. They do one exp per score, which at head size 32 would cost more
// than the GEMMs if it were scalar, so the float versions are written to vectorise (no branches,
// float compares or libm calls: std::exp on floats does not vectorise without -ffast-math, and
// g++ treats float compares as trapping under the default -ftrapping-math, which blocks
// if-conversion) and are compiled for AVX-512F, AVX2 and the x86-64 baseline by target_clones,
// picked once at load time by the CPU. Each clone computes the same bits: elementwise IEEE
// operations in a fixed order (no FMA: the build passes -ffp-contract=off) and reductions over a
// fixed number of interleaved lanes, combined in a fixed order. The double versions (the reference
// backend) are plain loops with std::exp.
// Not under ThreadSanitizer: the clones' ifunc resolver is instrumented, and the dynamic loader
// runs it while relocating, before the TSan runtime is initialised -- every TSan binary that
// links this file segfaulted at load. There the baseline clone alone runs (the same bits).
#if defined(__SANITIZE_THREAD__)
#define MART_ROW_CLONES
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MART_ROW_CLONES
#endif
#endif
#ifndef MART_ROW_CLONES
#define MART_ROW_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif

// Interleaved lanes of the max and sum reductions (a single running max/sum is a serial chain the
// compiler may not reorder); 16 floats fill one AVX-512 register.
constexpr int kLanes = 16;

// e^x for x <= 0 (a score minus its row max, or minus its row logsumexp, which exceeds 0 only by
// rounding; valid up to x = 88). Cephes' expf: range reduction by ln 2 in two parts, a degree-6
// polynomial, 2^n through the exponent bits; about 1 ulp. x < -87 (and -inf) is clamped to -87,
// where e^x ~ 1.6e-38 is still a normal float (a row sum is >= 1, so it changes nothing); NaN stays
// NaN, so a diverged model still shows.
inline float exp_neg(float x) {
  const uint32_t u = std::bit_cast<uint32_t>(x), mag = u & 0x7FFFFFFFu;
  // 1 where x < -87 or x = -inf: sign set, |x| > 87 (0x42AE0000), |x| <= inf (0x7F800000).
  const uint32_t low = (u >> 31) & static_cast<uint32_t>(mag > 0x42AE0000u) &
                       static_cast<uint32_t>(mag <= 0x7F800000u);
  x = std::bit_cast<float>(u ^ ((u ^ 0xC2AE0000u) & (0u - low)));  // select -87.0f where low
  // Adding 1.5 * 2^23 rounds x / ln 2 to an integer n held in the low mantissa bits.
  constexpr float kRound = 12582912.0f;
  const float t = x * 1.44269504088896341f + kRound;
  const float n = t - kRound;
  const int32_t ni = std::bit_cast<int32_t>(t) - std::bit_cast<int32_t>(kRound);
  float r = x - n * 0.693359375f;  // ln 2 = 0.693359375 - 2.12194440e-4, the first part exact
  r = r - n * -2.12194440e-4f;
  const float z = r * r;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * z + r + 1.0f;
  // n is in [-126, 127] for x in [-87, 88]: 2^n is a normal float.
  return y * std::bit_cast<float>((std::min(ni, 127) + 127) << 23);
}

// Maps a float's bits to an int32 with the same order (for non-NaN floats: a < b iff
// key(a) < key(b)); its own inverse.
inline int32_t order_key(int32_t u) {
  return u ^ ((u >> 31) & 0x7FFFFFFF);
}

// max of x[0..n), n >= 1, compared as order keys (integer max vectorises, float compares do not).
// A NaN with the sign bit clear wins, one with it set loses; either way the NaN still reaches the
// row's outputs through its own exp.
MART_ROW_CLONES float row_max(const float* x, int n) {
  int32_t lane[kLanes];
  const int32_t k0 = order_key(std::bit_cast<int32_t>(x[0]));
  for (int l = 0; l < kLanes; l++) lane[l] = k0;
  int j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int l = 0; l < kLanes; l++) {
      lane[l] = std::max(lane[l], order_key(std::bit_cast<int32_t>(x[j + l])));
    }
  }
  for (; j < n; j++) lane[0] = std::max(lane[0], order_key(std::bit_cast<int32_t>(x[j])));
  int32_t m = lane[0];
  for (int l = 1; l < kLanes; l++) m = std::max(m, lane[l]);
  return std::bit_cast<float>(order_key(m));
}
double row_max(const double* x, int n) {
  double m = x[0];
  for (int j = 1; j < n; j++) m = x[j] > m ? x[j] : m;
  return m;
}

// x[0..n) = e^(x - shift); returns their sum, accumulated in double.
MART_ROW_CLONES double exp_sum_row(float* x, int n, float shift) {
  for (int j = 0; j < n; j++) x[j] = exp_neg(x[j] - shift);
  double lane[kLanes] = {};
  int j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int l = 0; l < kLanes; l++) lane[l] += static_cast<double>(x[j + l]);
  }
  for (; j < n; j++) lane[0] += static_cast<double>(x[j]);
  double s = 0.0;
  for (int l = 0; l < kLanes; l++) s += lane[l];
  return s;
}
double exp_sum_row(double* x, int n, double shift) {
  double s = 0.0;
  for (int j = 0; j < n; j++) {
    x[j] = std::exp(x[j] - shift);
    s += x[j];
  }
  return s;
}

// The backward's row: p[0..n) = e^(p - lse) (scores -> probabilities) and
// ds[0..n) = p * (ds - D) (dP -> dS).
MART_ROW_CLONES void grad_row(float* p, float* ds, int n, float lse, float D) {
  for (int j = 0; j < n; j++) {
    const float e = exp_neg(p[j] - lse);
    p[j] = e;
    ds[j] = e * (ds[j] - D);
  }
}
void grad_row(double* p, double* ds, int n, double lse, double D) {
  for (int j = 0; j < n; j++) {
    p[j] = std::exp(p[j] - lse);
    ds[j] = p[j] * (ds[j] - D);
  }
}

// Offsets into one qkv row of width (NH + 2*NKV) * HS: the NH query heads, the NKV key heads, the
// NKV value heads. A head's [T,HS] matrix is then a strided view with leading dimension row().
struct Layout {
  int NH, NKV, HS;
  size_t row() const { return static_cast<size_t>(NH + 2 * NKV) * HS; }
  size_t q(int h) const { return static_cast<size_t>(h) * HS; }
  size_t k(int g) const { return static_cast<size_t>(NH + g) * HS; }
  size_t v(int g) const { return static_cast<size_t>(NH + NKV + g) * HS; }
};

int num_tiles(int T) {
  return (T + kQueryTile - 1) / kQueryTile;
}
}  // namespace

// qkv[B,T,(NH+2NKV)*HS] -> out[B,T,NH*HS], lse[B,NH,T].
// out[b,t,h] = sum_{t2<=t} softmax_t2(q.k_t2 / sqrt(HS)) v_t2, with k, v from kv head h/(NH/NKV);
// lse[b,h,t] = log sum_{t2<=t} exp(q.k_t2 / sqrt(HS)).
template <class S>
void attention_forward(S* out, S* lse, const S* qkv, int B, int T, int NH, int NKV, int HS) {
  check_shape("attention_forward", B, T, NH, NKV, HS);
  if (B == 0 || T == 0) return;
  const Layout L{NH, NKV, HS};
  const int R = static_cast<int>(L.row()), OR = NH * HS;
  const int rep = NH / NKV, ntiles = num_tiles(T), tile = std::min(T, kQueryTile);
  const S scale = static_cast<S>(1.0 / std::sqrt(static_cast<double>(HS)));
  BlasSerial serial;
#pragma omp parallel
  {
    // score[nq, kend] for the current tile (leading dimension kend): scores, then probabilities.
    std::vector<S> score(static_cast<size_t>(tile) * T);
    // 1 / rowsum of the unnormalised probabilities, per tile row: [nq].
    std::vector<S> inv(tile);
    // Tile qt costs O(qt): dynamic scheduling balances the causal triangle; each task owns its
    // output rows, so the schedule does not change any result.
#pragma omp for collapse(3) schedule(dynamic, 1)
    for (int b = 0; b < B; b++) {
      for (int h = 0; h < NH; h++) {
        for (int qt = 0; qt < ntiles; qt++) {
          const int g = h / rep, q0 = qt * kQueryTile;
          const int nq = T - q0 < kQueryTile ? T - q0 : kQueryTile, kend = q0 + nq;
          const S* base = qkv + static_cast<size_t>(b) * T * R;
          S* s = score.data();
          // s[nq,kend] = scale * Q[q0:kend, HS] @ K[0:kend, HS]^T
          gemm(false, true, nq, kend, HS, scale, base + static_cast<size_t>(q0) * R + L.q(h), R,
               base + L.k(g), R, S(0), s, kend);
          for (int i = 0; i < nq; i++) {
            S* row = s + static_cast<size_t>(i) * kend;
            const int n = q0 + i + 1;  // visible keys 0..q0+i
            const S mx = row_max(row, n);
            const double sum = exp_sum_row(row, n, mx);
            for (int j = n; j < kend; j++) row[j] = S(0);  // causal mask
            inv[i] = static_cast<S>(1.0 / sum);
            lse[(static_cast<size_t>(b) * NH + h) * T + q0 + i] =
                static_cast<S>(static_cast<double>(mx) + std::log(sum));
          }
          // O[q0:kend, HS] = P[nq,kend] @ V[0:kend, HS], then each row / its sum.
          S* o = out + static_cast<size_t>(b) * T * OR + static_cast<size_t>(q0) * OR +
                 static_cast<size_t>(h) * HS;
          gemm(false, false, nq, HS, kend, S(1), s, kend, base + L.v(g), R, S(0), o, OR);
          for (int i = 0; i < nq; i++) {
            S* orow = o + static_cast<size_t>(i) * OR;
            for (int c = 0; c < HS; c++) orow[c] *= inv[i];
          }
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
  if (B == 0 || T == 0) return;
  const Layout L{NH, NKV, HS};
  const int R = static_cast<int>(L.row()), OR = NH * HS;
  const int rep = NH / NKV, ntiles = num_tiles(T), tile = std::min(T, kQueryTile);
  const S scale = static_cast<S>(1.0 / std::sqrt(static_cast<double>(HS)));
  BlasSerial serial;
#pragma omp parallel
  {
    // p[nq,kend]: the tile's probabilities; ds[nq,kend]: dP, then dS (leading dimension kend).
    std::vector<S> p(static_cast<size_t>(tile) * T), ds(p.size());
    // A task owns kv head g of sequence b: dK and dV of the group are sums over its query heads
    // and query tiles, accumulated by GEMMs (beta = 1) in a fixed order, so no two threads ever
    // touch the same dK/dV rows and the summation order does not depend on the thread count.
#pragma omp for collapse(2) schedule(dynamic, 1)
    for (int b = 0; b < B; b++) {
      for (int g = 0; g < NKV; g++) {
        const S* base = qkv + static_cast<size_t>(b) * T * R;
        const S* K = base + L.k(g);  // [T, HS], leading dimension R
        const S* V = base + L.v(g);  // [T, HS], leading dimension R
        S* drow = dqkv + static_cast<size_t>(b) * T * R;
        S* dK = drow + L.k(g);  // [T, HS], leading dimension R
        S* dV = drow + L.v(g);  // [T, HS], leading dimension R
        for (int t = 0; t < T; t++) {
          for (int c = 0; c < HS; c++) {
            dK[static_cast<size_t>(t) * R + c] = S(0);
            dV[static_cast<size_t>(t) * R + c] = S(0);
          }
        }
        for (int h = g * rep; h < (g + 1) * rep; h++) {
          const S* lrow = lse + (static_cast<size_t>(b) * NH + h) * T;
          for (int qt = 0; qt < ntiles; qt++) {
            const int q0 = qt * kQueryTile;
            const int nq = T - q0 < kQueryTile ? T - q0 : kQueryTile, kend = q0 + nq;
            const S* Q = base + static_cast<size_t>(q0) * R + L.q(h);  // [nq, HS], ld R
            const size_t orow0 = static_cast<size_t>(b) * T * OR + static_cast<size_t>(q0) * OR +
                                 static_cast<size_t>(h) * HS;
            const S* dO = dout + orow0;  // [nq, HS], ld OR
            const S* O = out + orow0;    // [nq, HS], ld OR
            // p[nq,kend] = exp(scale * Q K[0:kend]^T - lse), 0 above the diagonal.
            gemm(false, true, nq, kend, HS, scale, Q, R, K, R, S(0), p.data(), kend);
            // ds[nq,kend] = dO V[0:kend]^T  (dP)
            gemm(false, true, nq, kend, HS, S(1), dO, OR, V, R, S(0), ds.data(), kend);
            for (int i = 0; i < nq; i++) {
              S* prow = p.data() + static_cast<size_t>(i) * kend;
              S* dsrow = ds.data() + static_cast<size_t>(i) * kend;
              const int n = q0 + i + 1;  // visible keys 0..q0+i
              // D = rowsum(dO * O) = rowsum(P * dP): the softmax Jacobian's diagonal correction.
              double d = 0.0;
              const S* dOi = dO + static_cast<size_t>(i) * OR;
              const S* Oi = O + static_cast<size_t>(i) * OR;
              for (int c = 0; c < HS; c++) d += static_cast<double>(dOi[c]) * Oi[c];
              grad_row(prow, dsrow, n, lrow[q0 + i], static_cast<S>(d));
              for (int j = n; j < kend; j++) prow[j] = dsrow[j] = S(0);  // causal mask
            }
            // dV[0:kend] += P^T dO;  dK[0:kend] += scale * dS^T Q;  dQ = scale * dS K[0:kend].
            gemm(true, false, kend, HS, nq, S(1), p.data(), kend, dO, OR, S(1), dV, R);
            gemm(true, false, kend, HS, nq, scale, ds.data(), kend, Q, R, S(1), dK, R);
            gemm(false, false, nq, HS, kend, scale, ds.data(), kend, K, R, S(0),
                 drow + static_cast<size_t>(q0) * R + L.q(h), R);
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
