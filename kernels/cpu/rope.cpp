// Rotary position embedding, rotate-half convention (GPT-NeoX / Llama): in each q and k head the
// pair (x[j], x[j + HS/2]) is rotated by the angle t * theta^(-2j/HS). Angles and their cos/sin are
// computed in double and then cast, so float and double runs see the same rotation.
#include <cmath>
#include <cstddef>
#include <vector>

#include "common/error.h"
#include "kernels/cpu/cpu_kernels.h"

namespace mart::cpu {

namespace {
// Rotates by +angle (forward) or -angle (backward, the transpose of a rotation). out == inp is
// fine: each pair is read before it is written.
template <class S>
void rope_apply(S* out, const S* inp, int B, int T, int pos0, int NH, int NKV, int HS, float theta,
                bool inverse, const char* op) {
  MART_CHECK(B >= 0 && T >= 0 && NH > 0 && NKV > 0 && HS > 0, op, ": bad shape B=", B, " T=", T,
             " NH=", NH, " NKV=", NKV, " HS=", HS);
  MART_CHECK(HS % 2 == 0, op, ": head size HS=", HS, " must be even (rotary pairs j, j+HS/2)");
  MART_CHECK(theta > 0.0f, op, ": rope theta=", theta, " must be positive");
  MART_CHECK(pos0 >= 0, op, ": position offset ", pos0, " must be >= 0");
  const int half = HS / 2;
  // cos/sin table [T, HS/2]
  std::vector<S> cs(static_cast<size_t>(T) * half), sn(static_cast<size_t>(T) * half);
  for (int j = 0; j < half; j++) {
    const double inv_freq = std::pow(static_cast<double>(theta), -2.0 * j / HS);
    for (int t = 0; t < T; t++) {
      const double angle = static_cast<double>(pos0 + t) * inv_freq;
      cs[static_cast<size_t>(t) * half + j] = static_cast<S>(std::cos(angle));
      sn[static_cast<size_t>(t) * half + j] =
          static_cast<S>(inverse ? -std::sin(angle) : std::sin(angle));
    }
  }
  const size_t R = static_cast<size_t>(NH + 2 * NKV) * HS;
  const size_t rotated = static_cast<size_t>(NH + NKV) * HS;  // q and k heads; v follows
  const int N = B * T;
#pragma omp parallel for
  for (int n = 0; n < N; n++) {
    const int t = n % T;
    const S* c = cs.data() + static_cast<size_t>(t) * half;
    const S* s = sn.data() + static_cast<size_t>(t) * half;
    const S* x = inp + static_cast<size_t>(n) * R;
    S* o = out + static_cast<size_t>(n) * R;
    for (size_t h0 = 0; h0 < rotated; h0 += HS) {
      for (int j = 0; j < half; j++) {
        const S x1 = x[h0 + j], x2 = x[h0 + j + half];
        o[h0 + j] = x1 * c[j] - x2 * s[j];
        o[h0 + j + half] = x2 * c[j] + x1 * s[j];
      }
    }
    if (o != x) {
      for (size_t i = rotated; i < R; i++) o[i] = x[i];
    }
  }
}
}  // namespace

// inp, out [B,T,(NH+2NKV)*HS]: q and k heads rotated, v heads copied. out == inp allowed.
template <class S>
void rope_forward(S* out, const S* inp, int B, int T, int NH, int NKV, int HS, float theta) {
  rope_apply(out, inp, B, T, 0, NH, NKV, HS, theta, false, "rope_forward");
}

// dout, dinp [B,T,(NH+2NKV)*HS]: the inverse rotation (rotation matrices are orthogonal, so the
// gradient is the transpose). dinp == dout allowed.
template <class S>
void rope_backward(S* dinp, const S* dout, int B, int T, int NH, int NKV, int HS, float theta) {
  rope_apply(dinp, dout, B, T, 0, NH, NKV, HS, theta, true, "rope_backward");
}

// Rows at positions pos..pos+T-1 (decoding with a KV cache): the same angles as rope_forward
// gives those rows inside a full sequence, bit for bit (the angle is computed from pos + t).
template <class S>
void rope_forward_at(S* out, const S* inp, int B, int T, int pos, int NH, int NKV, int HS,
                     float theta) {
  rope_apply(out, inp, B, T, pos, NH, NKV, HS, theta, false, "rope_forward_at");
}

template void rope_forward_at<float>(float*, const float*, int, int, int, int, int, int, float);
template void rope_forward_at<double>(double*, const double*, int, int, int, int, int, int, float);
template void rope_forward<float>(float*, const float*, int, int, int, int, int, float);
template void rope_forward<double>(double*, const double*, int, int, int, int, int, float);
template void rope_backward<float>(float*, const float*, int, int, int, int, int, float);
template void rope_backward<double>(double*, const double*, int, int, int, int, int, float);

}  // namespace mart::cpu
