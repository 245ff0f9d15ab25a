// Causal GQA attention on the GPU vs the CPU reference, through both paths: cuDNN SDPA (the
// default CudaOps) and MART's own kernels (a CudaOps made with MART_ATTENTION=fallback). Skipped
// without a GPU. Tolerances (|gpu - ref| <= atol + rtol*|ref|, atol = frac * max|ref|):
//   out: rtol 3e-2, atol 2e-2 x max   (cuDNN rounds P to bf16 before P V)
//   lse: rtol 1e-3, atol 1e-3 x max   (fp32 statistics from exact bf16 products)
//   dq, dk, dv: rtol 5e-2, atol 3e-2 x max (bf16 P and dS in cuDNN's backward matmuls)
// The fallback path is fp32 throughout and would pass much tighter bounds; it uses the same ones.
#include <gtest/gtest.h>

#ifdef MART_HAVE_CUDA
#include <string>
#include <vector>

#include "cuda/cudnn_policy.h"
#include "kernels/cpu/cpu_kernels.h"
#include "tests/gpu/cuda_test_util.h"

namespace mart::cudatest {
namespace {

struct AS {
  int B, T, NH, NKV, HS;
};
// MHA (GPT-2-like), GQA 4:1, a T that is no multiple of 64 with MQA, and a larger head size.
// Only T = 128 and 256 satisfy cuDNN < 9.16's backward rule (T % 128 == 0), so those shapes
// exercise cuDNN's backward on every release; the others run it on 9.16 and later.
const AS kShapes[] = {{2, 64, 4, 4, 64},
                      {2, 128, 8, 2, 64},
                      {1, 100, 2, 1, 32},
                      {1, 64, 2, 2, 128},
                      {1, 256, 4, 4, 64}};

// What the attention status of `s` must be on the cuDNN loaded here: "" (runs on cuDNN; a
// rejection by cuDNN itself is a failure to look into) or exactly the policy's refusal.
std::string expected_status(bool backward, const AS& s) {
  return cuda::cudnn_sdpa_refusal(cuda::loaded_cudnn_version(), backward, s.T, s.HS);
}

class CudaAttentionTest : public CudaTest {
 protected:
  // Runs forward + backward on `o` and checks both against the CPU; returns the raw dqkv bits.
  std::vector<uint16_t> run_and_check(Ops& o, const AS& s, bool check) {
    const size_t W = size_t(s.NH + 2 * s.NKV) * s.HS;
    const size_t n_qkv = size_t(s.B) * s.T * W, n_out = size_t(s.B) * s.T * s.NH * s.HS,
                 n_lse = size_t(s.B) * s.NH * s.T;
    auto qkv = rand_bf16(n_qkv, -1, 1, 201), dout = rand_bf16(n_out, -1, 1, 202);
    DevBuf dq = upload_bf16(qkv), dd = upload_bf16(dout);
    DevBuf out = poisoned(n_out * 2), lse = poisoned(n_lse * 4), dqkv = poisoned(n_qkv * 2);
    o.attention_forward(out.get(), lse.as<float>(), dq.get(), s.B, s.T, s.NH, s.NKV, s.HS);
    o.attention_backward(dqkv.get(), dd.get(), dq.get(), out.get(), lse.as<float>(), s.B, s.T, s.NH,
                         s.NKV, s.HS);
    sync();
    if (check) {
      std::vector<float> rout(n_out), rlse(n_lse), rdqkv(n_qkv);
      cpu::attention_forward<float>(rout.data(), rlse.data(), qkv.data(), s.B, s.T, s.NH, s.NKV,
                                    s.HS);
      // The backward reference takes the GPU's own forward output, as the GPU backward does.
      const auto gout = download_bf16(out.get(), n_out);
      const auto glse = download_f32(lse.get(), n_lse);
      cpu::attention_backward<float>(rdqkv.data(), dout.data(), qkv.data(), gout.data(),
                                     glse.data(), s.B, s.T, s.NH, s.NKV, s.HS);
      EXPECT_TRUE(close("out", gout, rout, 3e-2, 2e-2));
      EXPECT_TRUE(close("lse", glse, rlse, 1e-3, 1e-3));
      // Split dqkv into its q, k and v parts so each is judged against its own scale.
      const auto g = download_bf16(dqkv.get(), n_qkv);
      const size_t qw = size_t(s.NH) * s.HS, kw = size_t(s.NKV) * s.HS;
      std::vector<float> gp[3], rp[3];
      for (size_t r = 0; r < size_t(s.B) * s.T; r++)
        for (size_t c = 0; c < W; c++) {
          const int part = c < qw ? 0 : c < qw + kw ? 1 : 2;
          gp[part].push_back(g[r * W + c]);
          rp[part].push_back(rdqkv[r * W + c]);
        }
      EXPECT_TRUE(close("dq", gp[0], rp[0], 5e-2, 3e-2));
      EXPECT_TRUE(close("dk", gp[1], rp[1], 5e-2, 3e-2));
      EXPECT_TRUE(close("dv", gp[2], rp[2], 5e-2, 3e-2));
    }
    return download_raw_bf16(dqkv.get(), n_qkv);
  }
};

TEST_F(CudaAttentionTest, CudnnPathMatchesCpu) {
  for (const AS& s : kShapes) {
    SCOPED_TRACE(testing::Message() << "B=" << s.B << " T=" << s.T << " NH=" << s.NH
                                    << " NKV=" << s.NKV << " HS=" << s.HS);
    // Where the policy allows cuDNN for the loaded version, these shapes must run on it (the
    // fast path); where it refuses, the status must name that refusal and the fallback run.
    const std::string fw = cuda_attention_status(*ops(), false, s.B, s.T, s.NH, s.NKV, s.HS);
    const std::string bw = cuda_attention_status(*ops(), true, s.B, s.T, s.NH, s.NKV, s.HS);
    EXPECT_EQ(fw, expected_status(false, s)) << "attention forward status: " << fw;
    EXPECT_EQ(bw, expected_status(true, s)) << "attention backward status: " << bw;
    run_and_check(*ops(), s, true);
    // A plan that failed its first execution turns the status non-empty: check again after.
    EXPECT_EQ(cuda_attention_status(*ops(), true, s.B, s.T, s.NH, s.NKV, s.HS),
              expected_status(true, s));
  }
}

TEST_F(CudaAttentionTest, CudnnDeterministicBackwardIsReproducible) {
  for (const AS& s : kShapes) {
    SCOPED_TRACE(testing::Message() << "B=" << s.B << " T=" << s.T << " NH=" << s.NH
                                    << " NKV=" << s.NKV << " HS=" << s.HS);
    Ops& o = deterministic_ops();
    const std::string bw = cuda_attention_status(o, true, s.B, s.T, s.NH, s.NKV, s.HS);
    EXPECT_EQ(bw, expected_status(true, s)) << "deterministic attention backward status: " << bw;
    const auto a = run_and_check(o, s, true);
    const auto b = run_and_check(o, s, false);
    EXPECT_EQ(a, b) << "MART_CUDNN_DETERMINISTIC=1 attention backward is not bitwise reproducible";
  }
}

TEST_F(CudaAttentionTest, FallbackPathMatchesCpuAndIsDeterministic) {
  for (const AS& s : kShapes) {
    SCOPED_TRACE(testing::Message() << "B=" << s.B << " T=" << s.T << " NH=" << s.NH
                                    << " NKV=" << s.NKV << " HS=" << s.HS);
    const auto a = run_and_check(fallback_ops(), s, true);
    const auto b = run_and_check(fallback_ops(), s, false);
    EXPECT_EQ(a, b) << "fallback attention backward is not bitwise reproducible";
  }
}

TEST_F(CudaAttentionTest, OddHeadSizeFallsBackTransparently) {
  // HS = 20 is no multiple of 8: cuDNN rejects it and the default ops must still be right.
  EXPECT_NE(cuda_attention_status(*ops(), false, 1, 40, 3, 1, 20), "");
  run_and_check(*ops(), AS{1, 40, 3, 1, 20}, true);
}

}  // namespace
}  // namespace mart::cudatest

#endif  // MART_HAVE_CUDA
