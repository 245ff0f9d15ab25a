// CudaOps matmuls (cuBLASLt, fused bias / GELU epilogues) and the chunked classifier vs the CPU
// reference. Skipped without a GPU. Tolerances (|gpu - ref| <= atol + rtol*|ref|,
// atol = frac * max|ref|):
//   matmul outputs/gradients (bf16 operands, fp32 accumulation, one bf16 rounding; += onto a bf16
//   buffer adds one more):                                       rtol 2e-2, atol 1e-2 x max
//   classifier losses (logits are rounded to bf16 before the softmax, as in llm.c: an error of
//   ~|logit| * 2^-9 per logit):                                  rtol 1e-2, atol 2e-2 absolute
//   classifier dx / dwout (bf16 dlogits):                        rtol 5e-2, atol 2e-2 x max
#include <gtest/gtest.h>

#ifdef MART_HAVE_CUDA
#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "tests/gpu/cuda_test_util.h"

namespace mart::cudatest {
namespace {

constexpr double kMmRtol = 2e-2, kMmAtol = 1e-2;

using CudaMatmulTest = CudaTest;

struct MM {
  int N, IC, OC;
};
const MM kShapes[] = {{64, 768, 2304}, {37, 100, 60}, {128, 256, 1024}};

TEST_F(CudaMatmulTest, ForwardWithAndWithoutBias) {
  for (const MM s : kShapes) {
    for (bool bias : {true, false}) {
      SCOPED_TRACE(testing::Message()
                   << "N=" << s.N << " IC=" << s.IC << " OC=" << s.OC << " bias=" << bias);
      auto x = rand_bf16(size_t(s.N) * s.IC, -1, 1, 101),
           w = rand_bf16(size_t(s.OC) * s.IC, -.1f, .1f, 102), b = rand_bf16(s.OC, -1, 1, 103);
      DevBuf dx = upload_bf16(x), dw = upload_bf16(w), db = upload_bf16(b);
      DevBuf out = poisoned(size_t(s.N) * s.OC * 2);
      ops()->matmul_forward(out.get(), nullptr, dx.get(), dw.get(), bias ? db.get() : nullptr, s.N,
                            s.IC, s.OC);
      sync();
      std::vector<float> ref(size_t(s.N) * s.OC);
      cpu::matmul_forward<float>(ref.data(), x.data(), w.data(), bias ? b.data() : nullptr, s.N,
                                 s.IC, s.OC);
      EXPECT_TRUE(close("out", download_bf16(out.get(), ref.size()), ref, kMmRtol, kMmAtol));
    }
  }
}

TEST_F(CudaMatmulTest, ForwardFusedGelu) {
  for (const MM s : kShapes) {
    for (bool bias : {true, false}) {
      SCOPED_TRACE(testing::Message() << "N=" << s.N << " OC=" << s.OC << " bias=" << bias);
      auto x = rand_bf16(size_t(s.N) * s.IC, -1, 1, 111),
           w = rand_bf16(size_t(s.OC) * s.IC, -.1f, .1f, 112), b = rand_bf16(s.OC, -1, 1, 113);
      DevBuf dx = upload_bf16(x), dw = upload_bf16(w), db = upload_bf16(b);
      const size_t n = size_t(s.N) * s.OC;
      DevBuf pre = poisoned(n * 2), act = poisoned(n * 2);
      ops()->matmul_forward(pre.get(), act.get(), dx.get(), dw.get(), bias ? db.get() : nullptr,
                            s.N, s.IC, s.OC);
      sync();
      std::vector<float> rpre(n), ract(n);
      cpu::matmul_forward<float>(rpre.data(), x.data(), w.data(), bias ? b.data() : nullptr, s.N,
                                 s.IC, s.OC);
      cpu::gelu_forward<float>(ract.data(), rpre.data(), n);
      EXPECT_TRUE(close("pre-activation", download_bf16(pre.get(), n), rpre, kMmRtol, kMmAtol));
      EXPECT_TRUE(close("gelu", download_bf16(act.get(), n), ract, kMmRtol, kMmAtol));
    }
  }
}

TEST_F(CudaMatmulTest, BackwardAccumulatesWeightsAndBias) {
  for (const MM s : kShapes) {
    SCOPED_TRACE(testing::Message() << "N=" << s.N << " IC=" << s.IC << " OC=" << s.OC);
    auto x = rand_bf16(size_t(s.N) * s.IC, -1, 1, 121),
         w = rand_bf16(size_t(s.OC) * s.IC, -.1f, .1f, 122),
         d = rand_bf16(size_t(s.N) * s.OC, -1, 1, 123), dw0 = rand_bf16(w.size(), -1, 1, 124),
         db0 = rand_bf16(s.OC, -1, 1, 125);
    DevBuf dx = upload_bf16(x), dwt = upload_bf16(w), dd = upload_bf16(d);
    DevBuf din = poisoned(x.size() * 2), gw = upload_bf16(dw0), gb = upload_bf16(db0);
    ops()->matmul_backward(din.get(), gw.get(), gb.get(), dd.get(), dx.get(), dwt.get(), s.N, s.IC,
                           s.OC);
    sync();
    std::vector<float> rin(x.size()), rw = dw0, rb = db0;
    cpu::matmul_backward<float>(rin.data(), rw.data(), rb.data(), d.data(), x.data(), w.data(), s.N,
                                s.IC, s.OC);
    EXPECT_TRUE(close("dinp", download_bf16(din.get(), rin.size()), rin, kMmRtol, kMmAtol));
    EXPECT_TRUE(close("dw", download_bf16(gw.get(), rw.size()), rw, kMmRtol, kMmAtol));
    EXPECT_TRUE(close("dbias", download_bf16(gb.get(), rb.size()), rb, kMmRtol, kMmAtol));

    // Null outputs are skipped: only dw accumulates again.
    ops()->matmul_backward(nullptr, gw.get(), nullptr, dd.get(), dx.get(), dwt.get(), s.N, s.IC,
                           s.OC);
    sync();
    std::vector<float> rw2 = rw;
    cpu::matmul_backward<float>(nullptr, rw2.data(), nullptr, d.data(), x.data(), w.data(), s.N,
                                s.IC, s.OC);
    EXPECT_TRUE(
        close("dw (second +=)", download_bf16(gw.get(), rw2.size()), rw2, kMmRtol, 2 * kMmAtol));
  }
}

struct CL {
  int N, C, V;
};

TEST_F(CudaMatmulTest, ClassifierForwardBackward) {
  // The second shape spans two row chunks (GPT-2's vocabulary; 256 MiB of logits per chunk).
  for (const CL s : {CL{200, 64, 1000}, CL{2700, 32, 50257}}) {
    SCOPED_TRACE(testing::Message() << "N=" << s.N << " C=" << s.C << " V=" << s.V);
    auto x = rand_bf16(size_t(s.N) * s.C, -1, 1, 131),
         w = rand_bf16(size_t(s.V) * s.C, -.5f, .5f, 132),
         dw0 = rand_bf16(w.size(), -.01f, .01f, 133);
    std::vector<int32_t> tg(s.N);
    std::mt19937 rng(134);
    for (int i = 0; i < s.N; i++) tg[i] = (i % 17 == 5) ? -1 : int(rng() % s.V);  // some ignored
    const float dloss = 1.0f / s.N;
    DevBuf dx = upload_bf16(x), dwt = upload_bf16(w), dtg = upload(tg);
    DevBuf losses = poisoned(size_t(s.N) * 4), gx = poisoned(x.size() * 2), gw = upload_bf16(dw0);
    DevBuf ws(ops()->classifier_workspace_bytes(s.N, s.V));
    ASSERT_NE(ws.get(), nullptr);
    ops()->classifier_forward_backward(losses.as<float>(), gx.get(), gw.get(), dx.get(), dwt.get(),
                                       dtg.as<int32_t>(), s.N, s.C, s.V, dloss, ws.get());
    sync();
    std::vector<float> rl(s.N), rx(x.size()), rw = dw0, rws(size_t(256) * s.V);
    cpu::classifier_forward_backward<float>(rl.data(), rx.data(), rw.data(), x.data(), w.data(),
                                            tg.data(), s.N, s.C, s.V, dloss, rws.data(), 256);
    const auto gl = download_f32(losses.get(), s.N);
    for (int i = 0; i < s.N; i++)
      ASSERT_NEAR(gl[i], rl[i], 2e-2 + 1e-2 * std::fabs(rl[i])) << "loss row " << i;
    EXPECT_TRUE(close("dx", download_bf16(gx.get(), rx.size()), rx, 5e-2, 2e-2));
    EXPECT_TRUE(close("dwout", download_bf16(gw.get(), rw.size()), rw, 5e-2, 2e-2));

    // dloss == 0: losses only; dx and dwout may be null.
    DevBuf l2 = poisoned(size_t(s.N) * 4);
    ops()->classifier_forward_backward(l2.as<float>(), nullptr, nullptr, dx.get(), dwt.get(),
                                       tg.data() /* pageable host targets */, s.N, s.C, s.V, 0.0f,
                                       ws.get());
    sync();
    const auto gl2 = download_f32(l2.get(), s.N);
    for (int i = 0; i < s.N; i++) ASSERT_EQ(gl2[i], gl[i]) << "forward-only loss row " << i;
  }
}

}  // namespace
}  // namespace mart::cudatest

#endif  // MART_HAVE_CUDA
