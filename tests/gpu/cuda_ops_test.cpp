// CudaOps vs the CPU reference: norms, elementwise ops, RoPE, embedding, AdamW, sumsq, scale.
// Skipped without a GPU. Tolerances (|gpu - ref| <= atol + rtol*|ref|, atol = frac * max|ref|):
//   elementwise (one bf16 rounding of an fp32 result):      rtol 1e-2, atol 1e-3 x max
//   norm outputs, row/column reductions stored as bf16:      rtol 2e-2, atol 1e-2 x max
//   fp32 statistics (mean, rstd) from bf16 inputs:           rtol 1e-4, atol 1e-5 x max
//   AdamW master/m/v: bitwise (same operation order, no FMA); bf16 param: exact rounding
//   sumsq (fp64 partials on both sides):                     rtol 1e-6
// bf16 has an 8-bit mantissa (relative step 2^-8 = 0.4%), so each bound is a few roundings wide:
// tight enough to catch a wrong formula, index or missing write (outputs are NaN-poisoned).
#include <gtest/gtest.h>

#ifdef MART_HAVE_CUDA
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "tests/gpu/cuda_test_util.h"

namespace mart::cudatest {
namespace {

constexpr double kEwRtol = 1e-2, kEwAtol = 1e-3;
constexpr double kRedRtol = 2e-2, kRedAtol = 1e-2;

using CudaOpsTest = CudaTest;

struct NC {
  int N, C;
};
// 768: vector path, row cached in registers; 2304: vector path, re-read; 100: scalar path.
const NC kNormShapes[] = {{37, 768}, {16, 2304}, {9, 100}};

TEST_F(CudaOpsTest, LayerNormForward) {
  for (const NC s : kNormShapes) {
    SCOPED_TRACE(testing::Message() << "N=" << s.N << " C=" << s.C);
    const size_t n = size_t(s.N) * s.C;
    auto x = rand_bf16(n, -2.0f, 3.0f, 1), w = rand_bf16(s.C, 0.5f, 1.5f, 2),
         b = rand_bf16(s.C, -0.5f, 0.5f, 3);
    DevBuf dx = upload_bf16(x), dw = upload_bf16(w), db = upload_bf16(b);
    DevBuf dout = poisoned(n * 2), dmean = poisoned(s.N * 4), drstd = poisoned(s.N * 4);
    ops()->layernorm_forward(dout.get(), dmean.as<float>(), drstd.as<float>(), dx.get(), dw.get(),
                             db.get(), s.N, s.C, 1e-5f);
    sync();
    std::vector<float> out(n), mean(s.N), rstd(s.N);
    cpu::layernorm_forward<float>(out.data(), mean.data(), rstd.data(), x.data(), w.data(),
                                  b.data(), s.N, s.C, 1e-5f);
    EXPECT_TRUE(close("out", download_bf16(dout.get(), n), out, kRedRtol, kRedAtol));
    EXPECT_TRUE(close("mean", download_f32(dmean.get(), s.N), mean, 1e-4, 1e-5));
    EXPECT_TRUE(close("rstd", download_f32(drstd.get(), s.N), rstd, 1e-4, 1e-5));
  }
}

TEST_F(CudaOpsTest, LayerNormBackwardAccumulatesAndIsDeterministic) {
  for (const NC s : kNormShapes) {
    SCOPED_TRACE(testing::Message() << "N=" << s.N << " C=" << s.C);
    const size_t n = size_t(s.N) * s.C;
    auto x = rand_bf16(n, -2.0f, 2.0f, 4), w = rand_bf16(s.C, 0.5f, 1.5f, 5),
         d = rand_bf16(n, -1.0f, 1.0f, 6), dinp0 = rand_bf16(n, -0.5f, 0.5f, 7),
         dw0 = rand_bf16(s.C, -0.5f, 0.5f, 8), db0 = rand_bf16(s.C, -0.5f, 0.5f, 9);
    std::vector<float> out(n), mean(s.N), rstd(s.N);
    cpu::layernorm_forward<float>(out.data(), mean.data(), rstd.data(), x.data(), w.data(), nullptr,
                                  s.N, s.C, 1e-5f);
    DevBuf dx = upload_bf16(x), dwt = upload_bf16(w), dd = upload_bf16(d), dm = upload(mean),
           dr = upload(rstd);
    std::vector<uint16_t> first;
    for (int rep = 0; rep < 2; rep++) {
      DevBuf gi = upload_bf16(dinp0), gw = upload_bf16(dw0), gb = upload_bf16(db0);
      ops()->layernorm_backward(gi.get(), gw.get(), gb.get(), dd.get(), dx.get(), dwt.get(),
                                dm.as<float>(), dr.as<float>(), s.N, s.C);
      sync();
      auto raw = download_raw_bf16(gw.get(), s.C);
      if (rep == 0) {
        std::vector<float> ri = dinp0, rw = dw0, rb = db0;
        cpu::layernorm_backward<float>(ri.data(), rw.data(), rb.data(), d.data(), x.data(),
                                       w.data(), mean.data(), rstd.data(), s.N, s.C);
        EXPECT_TRUE(close("dinp", download_bf16(gi.get(), n), ri, kRedRtol, kRedAtol));
        EXPECT_TRUE(close("dw", download_bf16(gw.get(), s.C), rw, kRedRtol, kRedAtol));
        EXPECT_TRUE(close("db", download_bf16(gb.get(), s.C), rb, kRedRtol, kRedAtol));
        first = raw;
      } else {
        EXPECT_EQ(raw, first) << "dw differs between identical runs";
      }
    }
  }
}

TEST_F(CudaOpsTest, RmsNormForwardBackward) {
  for (const NC s : kNormShapes) {
    SCOPED_TRACE(testing::Message() << "N=" << s.N << " C=" << s.C);
    const size_t n = size_t(s.N) * s.C;
    auto x = rand_bf16(n, -2.0f, 2.0f, 11), w = rand_bf16(s.C, 0.5f, 1.5f, 12),
         d = rand_bf16(n, -1.0f, 1.0f, 13), dinp0 = rand_bf16(n, -0.5f, 0.5f, 14),
         dw0 = rand_bf16(s.C, -0.5f, 0.5f, 15);
    DevBuf dx = upload_bf16(x), dwt = upload_bf16(w), dd = upload_bf16(d);
    DevBuf dout = poisoned(n * 2), drstd = poisoned(s.N * 4);
    ops()->rmsnorm_forward(dout.get(), drstd.as<float>(), dx.get(), dwt.get(), s.N, s.C, 1e-5f);
    std::vector<float> out(n), rstd(s.N);
    cpu::rmsnorm_forward<float>(out.data(), rstd.data(), x.data(), w.data(), s.N, s.C, 1e-5f);
    DevBuf gi = upload_bf16(dinp0), gw = upload_bf16(dw0), dr = upload(rstd);
    ops()->rmsnorm_backward(gi.get(), gw.get(), dd.get(), dx.get(), dwt.get(), dr.as<float>(), s.N,
                            s.C);
    sync();
    EXPECT_TRUE(close("out", download_bf16(dout.get(), n), out, kRedRtol, kRedAtol));
    EXPECT_TRUE(close("rstd", download_f32(drstd.get(), s.N), rstd, 1e-4, 1e-5));
    std::vector<float> ri = dinp0, rw = dw0;
    cpu::rmsnorm_backward<float>(ri.data(), rw.data(), d.data(), x.data(), w.data(), rstd.data(),
                                 s.N, s.C);
    EXPECT_TRUE(close("dinp", download_bf16(gi.get(), n), ri, kRedRtol, kRedAtol));
    EXPECT_TRUE(close("dw", download_bf16(gw.get(), s.C), rw, kRedRtol, kRedAtol));
  }
}

TEST_F(CudaOpsTest, GeluAddScale) {
  for (size_t n : {size_t(8192), size_t(10007)}) {  // vector path / scalar path
    SCOPED_TRACE(testing::Message() << "n=" << n);
    auto x = rand_bf16(n, -4.0f, 4.0f, 21), y = rand_bf16(n, -1.0f, 1.0f, 22);
    DevBuf dx = upload_bf16(x), dy = upload_bf16(y);
    DevBuf g = poisoned(n * 2), gb = poisoned(n * 2), s = poisoned(n * 2);
    ops()->gelu_forward(g.get(), dx.get(), n);
    ops()->gelu_backward(gb.get(), dx.get(), dy.get(), n);
    ops()->add(s.get(), dx.get(), dy.get(), n);
    DevBuf sc = upload_bf16(x);
    ops()->scale(sc.get(), 0.37f, n);
    sync();
    std::vector<float> rg(n), rgb(n), rs(n), rsc(n);
    cpu::gelu_forward<float>(rg.data(), x.data(), n);
    cpu::gelu_backward<float>(rgb.data(), x.data(), y.data(), n);
    for (size_t i = 0; i < n; i++) {
      rs[i] = x[i] + y[i];
      rsc[i] = round_bf16(x[i] * 0.37f);
    }
    EXPECT_TRUE(close("gelu", download_bf16(g.get(), n), rg, kEwRtol, kEwAtol));
    EXPECT_TRUE(close("gelu_backward", download_bf16(gb.get(), n), rgb, kEwRtol, kEwAtol));
    EXPECT_TRUE(close("add", download_bf16(s.get(), n), rs, kEwRtol, kEwAtol));
    EXPECT_TRUE(close("scale", download_bf16(sc.get(), n), rsc, 0.0, 0.0));  // exact rounding
  }
}

TEST_F(CudaOpsTest, SwiGLU) {
  for (const NC s : {NC{13, 256}, NC{5, 100}}) {
    SCOPED_TRACE(testing::Message() << "N=" << s.N << " F=" << s.C);
    const int N = s.N, F = s.C;
    auto x = rand_bf16(size_t(N) * 2 * F, -3.0f, 3.0f, 31), d = rand_bf16(size_t(N) * F, -1, 1, 32);
    DevBuf dx = upload_bf16(x), dd = upload_bf16(d);
    DevBuf out = poisoned(size_t(N) * F * 2), din = poisoned(size_t(N) * 2 * F * 2);
    ops()->swiglu_forward(out.get(), dx.get(), N, F);
    ops()->swiglu_backward(din.get(), dd.get(), dx.get(), N, F);
    sync();
    std::vector<float> ro(size_t(N) * F), rd(size_t(N) * 2 * F);
    cpu::swiglu_forward<float>(ro.data(), x.data(), N, F);
    cpu::swiglu_backward<float>(rd.data(), d.data(), x.data(), N, F);
    EXPECT_TRUE(close("swiglu", download_bf16(out.get(), ro.size()), ro, kEwRtol, kEwAtol));
    EXPECT_TRUE(
        close("swiglu_backward", download_bf16(din.get(), rd.size()), rd, kEwRtol, kEwAtol));
  }
}

TEST_F(CudaOpsTest, RopeForwardBackwardAndInPlace) {
  struct S {
    int B, T, NH, NKV, HS;
  };
  for (const S s : {S{2, 16, 4, 2, 64}, S{1, 9, 2, 1, 12}}) {
    SCOPED_TRACE(testing::Message() << "HS=" << s.HS);
    const size_t n = size_t(s.B) * s.T * (s.NH + 2 * s.NKV) * s.HS;
    const float theta = 10000.0f;
    auto x = rand_bf16(n, -1.0f, 1.0f, 41);
    DevBuf dx = upload_bf16(x), out = poisoned(n * 2), back = poisoned(n * 2);
    ops()->rope_forward(out.get(), dx.get(), s.B, s.T, s.NH, s.NKV, s.HS, theta);
    ops()->rope_backward(back.get(), out.get(), s.B, s.T, s.NH, s.NKV, s.HS, theta);
    DevBuf inplace = upload_bf16(x);
    ops()->rope_forward(inplace.get(), inplace.get(), s.B, s.T, s.NH, s.NKV, s.HS, theta);
    sync();
    std::vector<float> ro(n), rb(n);
    cpu::rope_forward<float>(ro.data(), x.data(), s.B, s.T, s.NH, s.NKV, s.HS, theta);
    auto got = download_bf16(out.get(), n);
    cpu::rope_backward<float>(rb.data(), got.data(), s.B, s.T, s.NH, s.NKV, s.HS, theta);
    EXPECT_TRUE(close("rope_forward", got, ro, kEwRtol, kEwAtol));
    EXPECT_TRUE(close("rope_backward", download_bf16(back.get(), n), rb, kEwRtol, kEwAtol));
    EXPECT_TRUE(close("rope in place", download_bf16(inplace.get(), n), ro, kEwRtol, kEwAtol));
  }
}

TEST_F(CudaOpsTest, EmbeddingForwardBackwardDeterministic) {
  struct S {
    int B, T, C, V;
    bool wpe, same_token, host_tokens;
  };
  for (const S s : {S{4, 64, 768, 100, true, false, false}, S{3, 33, 100, 7, false, false, true},
                    S{2, 256, 256, 50, true, true, false}}) {
    SCOPED_TRACE(testing::Message() << "C=" << s.C << " V=" << s.V << " same=" << s.same_token);
    const int N = s.B * s.T;
    std::vector<int32_t> tok(N);
    std::mt19937 rng(51);
    for (auto& t : tok) t = s.same_token ? 7 : int(rng() % s.V);
    auto wte = rand_bf16(size_t(s.V) * s.C, -1, 1, 52),
         wpe = rand_bf16(size_t(s.T) * s.C, -1, 1, 53);
    auto d = rand_bf16(size_t(N) * s.C, -1, 1, 54);
    auto dwte0 = rand_bf16(wte.size(), -0.1f, 0.1f, 55),
         dwpe0 = rand_bf16(wpe.size(), -.1f, .1f, 56);
    DevBuf dtok = upload(tok), dwte = upload_bf16(wte), dwpe = upload_bf16(wpe),
           dd = upload_bf16(d);
    const int32_t* tokp = s.host_tokens ? tok.data() : dtok.as<int32_t>();  // pageable host too
    DevBuf out = poisoned(size_t(N) * s.C * 2);
    ops()->embedding_forward(out.get(), tokp, dwte.get(), s.wpe ? dwpe.get() : nullptr, s.B, s.T,
                             s.C);
    sync();
    std::vector<float> ro(size_t(N) * s.C);
    cpu::embedding_forward<float>(ro.data(), tok.data(), wte.data(), s.wpe ? wpe.data() : nullptr,
                                  s.B, s.T, s.C);
    EXPECT_TRUE(close("embedding_forward", download_bf16(out.get(), ro.size()), ro, 1e-2, 1e-3));

    std::vector<uint16_t> first;
    for (int rep = 0; rep < 2; rep++) {
      DevBuf gte = upload_bf16(dwte0), gpe = upload_bf16(dwpe0);
      ops()->embedding_backward(gte.get(), s.wpe ? gpe.get() : nullptr, dd.get(), tokp, s.B, s.T,
                                s.C);
      sync();
      auto raw = download_raw_bf16(gte.get(), wte.size());
      if (rep == 0) {
        std::vector<float> rte = dwte0, rpe = dwpe0;
        cpu::embedding_backward<float>(rte.data(), s.wpe ? rpe.data() : nullptr, d.data(),
                                       tok.data(), s.B, s.T, s.C);
        EXPECT_TRUE(close("dwte", download_bf16(gte.get(), rte.size()), rte, kRedRtol, kRedAtol));
        if (s.wpe) {
          EXPECT_TRUE(close("dwpe", download_bf16(gpe.get(), rpe.size()), rpe, kRedRtol, kRedAtol));
        }
        first = raw;
      } else {
        EXPECT_EQ(raw, first) << "dwte differs between identical runs";
      }
    }
  }
}

TEST_F(CudaOpsTest, AdamWMatchesCpuBitwise) {
  for (size_t n : {size_t(4096), size_t(10003)}) {
    SCOPED_TRACE(testing::Message() << "n=" << n);
    AdamWHyper h;
    h.lr = 1e-3f;
    h.weight_decay = 0.1f;
    h.step = 7;
    h.grad_scale = 0.5f;
    auto master = rand_f32(n, -1, 1, 61), g = rand_bf16(n, -1, 1, 62),
         m = rand_f32(n, -.1f, .1f, 63), v = rand_f32(n, 0, .01f, 64);
    std::vector<float> p_bf(n);
    for (size_t i = 0; i < n; i++) p_bf[i] = round_bf16(master[i]);
    for (uint64_t seed : {uint64_t(0), uint64_t(1234)}) {
      DevBuf dp = upload_bf16(p_bf), dmaster = upload(master), dg = upload_bf16(g), dm = upload(m),
             dv = upload(v);
      ops()->adamw_update(dp.get(), dmaster.as<float>(), dg.get(), dm.as<float>(), dv.as<float>(),
                          n, h, seed);
      sync();
      std::vector<float> rp = master, rm = m, rv = v;
      cpu::adamw_update<float>(rp.data(), g.data(), rm.data(), rv.data(), n, h.lr, h.beta1, h.beta2,
                               h.eps, h.weight_decay, h.step, h.grad_scale);
      const auto gp = download_f32(dmaster.get(), n), gm = download_f32(dm.get(), n),
                 gv = download_f32(dv.get(), n);
      EXPECT_EQ(0, std::memcmp(gp.data(), rp.data(), n * 4)) << "master differs from the CPU";
      EXPECT_EQ(0, std::memcmp(gm.data(), rm.data(), n * 4)) << "m differs from the CPU";
      EXPECT_EQ(0, std::memcmp(gv.data(), rv.data(), n * 4)) << "v differs from the CPU";
      const auto pb = download_raw_bf16(dp.get(), n);
      double bias = 0.0;
      size_t bad = 0;
      for (size_t i = 0; i < n; i++) {
        const uint16_t rne = f32_to_bf16(rp[i]);
        uint32_t u;
        std::memcpy(&u, &rp[i], 4);
        const uint16_t lo = uint16_t(u >> 16), hi = uint16_t(lo + 1);  // truncation, next up
        if (seed == 0 ? pb[i] != rne : (pb[i] != lo && pb[i] != hi)) bad++;
        bias += double(bf16_to_f32(pb[i])) - rp[i];
      }
      EXPECT_EQ(bad, 0u) << "bf16 param not a valid rounding of master (seed " << seed << ")";
      if (seed != 0) {
        EXPECT_LT(std::fabs(bias / n), 2e-4) << "stochastic rounding is biased";
      }
    }
    // Without a master copy the bf16 param itself is the weight.
    DevBuf dp = upload_bf16(p_bf), dg = upload_bf16(g), dm = upload(m), dv = upload(v);
    ops()->adamw_update(dp.get(), nullptr, dg.get(), dm.as<float>(), dv.as<float>(), n, h, 0);
    sync();
    std::vector<float> rp = p_bf, rm = m, rv = v;
    cpu::adamw_update<float>(rp.data(), g.data(), rm.data(), rv.data(), n, h.lr, h.beta1, h.beta2,
                             h.eps, h.weight_decay, h.step, h.grad_scale);
    for (auto& x : rp) x = round_bf16(x);
    EXPECT_TRUE(close("param (no master)", download_bf16(dp.get(), n), rp, 0.0, 0.0));
  }
}

TEST_F(CudaOpsTest, SumsqDeterministic) {
  for (size_t n : {size_t(1) << 20, (size_t(1) << 20) + 5, size_t(3)}) {
    auto x = rand_bf16(n, -1, 1, 71);
    DevBuf dx = upload_bf16(x), out = poisoned(4), out2 = poisoned(4);
    ops()->sumsq(out.as<float>(), dx.get(), n);
    ops()->sumsq(out2.as<float>(), dx.get(), n);
    sync();
    const float got = download_f32(out.get(), 1)[0], again = download_f32(out2.get(), 1)[0];
    const double ref = cpu::sumsq<float>(x.data(), n);
    EXPECT_NEAR(got, ref, 1e-6 * ref) << "n=" << n;
    EXPECT_EQ(got, again);
  }
}

}  // namespace
}  // namespace mart::cudatest

#endif  // MART_HAVE_CUDA
