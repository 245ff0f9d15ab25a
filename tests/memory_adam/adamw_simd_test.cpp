// The fused SIMD AdamW: every ISA path is bitwise equal to the scalar reference, and the scalar
// reference is bitwise equal to mart::cpu::adamw_update<float> (kernels/cpu/cpu_kernels.h).
#include "kernels/cpu/adamw_simd.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "common/error.h"
#include "kernels/cpu/cpu_kernels.h"
#include "tests/memory_adam/adam_test_util.h"

namespace mart {
namespace {

using cpu::AdamIsa;
using test::AdamState;

const size_t kSizes[] = {0, 1, 3, 7, 8, 15, 16, 17, 31, 33, 63, 100, 1000, 4097, 65536 + 13};

std::vector<AdamWHyper> hypers() {
  std::vector<AdamWHyper> hs;
  AdamWHyper h;  // defaults: lr 1e-3, betas 0.9/0.95, eps 1e-8, wd 0, step 1, grad_scale 1
  hs.push_back(h);
  h.weight_decay = 0.1f;
  h.step = 7;
  hs.push_back(h);
  h.grad_scale = 0.37f;
  h.step = 1000;
  h.beta2 = 0.999f;
  hs.push_back(h);
  h.weight_decay = 0.0f;
  h.grad_scale = 1.0f / 65536.0f;  // loss-scale undo
  h.lr = 3e-4f;
  h.step = 2;
  hs.push_back(h);
  return hs;
}

void run(AdamState& st, bool bf16_grad, int out, const AdamWHyper& h, AdamIsa isa) {
  cpu::adamw_simd(st.span(bf16_grad, out), cpu::adamw_consts(h), isa);
}

TEST(AdamwSimd, EveryIsaMatchesScalarBitwise) {
  for (AdamIsa isa : test::available_isas()) {
    for (size_t n : kSizes) {
      for (const AdamWHyper& h : hypers()) {
        for (bool bf16_grad : {false, true}) {
          for (int out : {0, 1, 2}) {
            SCOPED_TRACE(testing::Message()
                         << cpu::adam_isa_name(isa) << " n=" << n << " step=" << h.step
                         << " wd=" << h.weight_decay << " gs=" << h.grad_scale
                         << " bf16_grad=" << bf16_grad << " out=" << out);
            AdamState ref(n, static_cast<uint32_t>(n * 31 + h.step), 1), got = ref;
            run(ref, bf16_grad, out, h, AdamIsa::Scalar);
            run(got, bf16_grad, out, h, isa);
            ASSERT_TRUE(test::same_state(ref, got));
          }
        }
      }
    }
  }
}

TEST(AdamwSimd, ScalarMatchesCpuKernelReference) {
  for (size_t n : kSizes) {
    for (const AdamWHyper& h : hypers()) {
      SCOPED_TRACE(testing::Message() << "n=" << n << " step=" << h.step);
      AdamState st(n, static_cast<uint32_t>(n + 5), 1), ref = st;
      cpu::adamw_update<float>(ref.master.data(), ref.grad.data(), ref.m.data(), ref.v.data(), n,
                               h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, h.step, h.grad_scale);
      run(st, false, 1, h, cpu::adam_isa_default());
      ASSERT_TRUE(test::same_bits(ref.master, st.master, "master"));
      ASSERT_TRUE(test::same_bits(ref.m, st.m, "m"));
      ASSERT_TRUE(test::same_bits(ref.v, st.v, "v"));
      ASSERT_TRUE(test::same_bits(st.master, st.out_f32, "out_f32 vs master"));
    }
  }
}

TEST(AdamwSimd, Bf16GradIsTheWidenedFp32Grad) {
  const AdamWHyper h = hypers()[2];
  for (AdamIsa isa : test::available_isas()) {
    AdamState a(4097, 11), b = a;
    for (size_t i = 0; i < a.n; ++i) b.grad[i] = bf16_to_f32(b.grad_bf16[i]);
    run(a, true, 2, h, isa);
    run(b, false, 2, h, AdamIsa::Scalar);
    ASSERT_TRUE(test::same_state(a, b)) << cpu::adam_isa_name(isa);
  }
}

TEST(AdamwSimd, Bf16OutputIsRoundToNearestEvenOfMaster) {
  for (AdamIsa isa : test::available_isas()) {
    AdamState st(1000, 3);
    // Ties and near-ties: low halves 0x8000 (tie) with even and odd upper halves, and 0x7fff.
    for (size_t i = 0; i < 64; ++i) {
      const uint32_t u =
          (0x3f800000u + (static_cast<uint32_t>(i) << 16)) | (i % 3 == 0   ? 0x8000u
                                                              : i % 3 == 1 ? 0x7fffu
                                                                           : 0x8001u);
      std::memcpy(&st.master[i], &u, 4);
      st.grad[i] = 0.0f;  // with m = v = 0 and wd = 0 the update leaves master unchanged
      st.m[i] = st.v[i] = 0.0f;
    }
    run(st, false, 2, AdamWHyper{}, isa);
    for (size_t i = 0; i < st.n; ++i)
      ASSERT_EQ(st.out_bf16[i], f32_to_bf16(st.master[i])) << cpu::adam_isa_name(isa) << " " << i;
  }
}

TEST(AdamwSimd, ZeroGradsAndZeroStateKeepParamsWithoutDecay) {
  for (AdamIsa isa : test::available_isas()) {
    AdamState st(333, 4, 0);
    const std::vector<float> before = st.master;
    std::fill(st.grad.begin(), st.grad.end(), 0.0f);
    std::fill(st.m.begin(), st.m.end(), 0.0f);
    std::fill(st.v.begin(), st.v.end(), 0.0f);
    run(st, false, 1, AdamWHyper{}, isa);
    ASSERT_TRUE(test::same_bits(before, st.master, "master"));
    ASSERT_TRUE(test::same_bits(before, st.out_f32, "out"));
  }
}

TEST(AdamwSimd, AnyRangeSplitAndOffsetGivesTheSameBits) {
  // Misaligned starts exercise the scalar peel in front of the streaming stores; sub-ranges are
  // what the thread pool hands each worker.
  const AdamWHyper h = hypers()[1];
  for (AdamIsa isa : test::available_isas()) {
    for (int out : {1, 2}) {
      for (size_t off : {size_t(0), size_t(1), size_t(5), size_t(9), size_t(15)}) {
        AdamState whole(3000, 21), parts = whole;
        run(whole, false, out, h, AdamIsa::Scalar);
        const cpu::AdamWSpan s = parts.span(false, out);
        const cpu::AdamWConsts k = cpu::adamw_consts(h);
        cpu::adamw_simd(s, 0, off, k, isa, true);
        cpu::adamw_simd(s, off, 1234, k, isa, false);  // ordinary stores
        cpu::adamw_simd(s, 1234, 1235, k, isa, true);
        cpu::adamw_simd(s, 1235, s.n, k, isa, true);
        ASSERT_TRUE(test::same_state(whole, parts)) << cpu::adam_isa_name(isa) << " off=" << off;
      }
    }
  }
}

TEST(AdamwSimd, ManyStepsStayBitwiseEqual) {
  // Errors compound over steps if any path differs in the last bit anywhere.
  for (AdamIsa isa : test::available_isas()) {
    AdamState ref(1001, 8, 0), got = ref;
    AdamWHyper h;
    h.weight_decay = 0.01f;
    for (int step = 1; step <= 50; ++step) {
      h.step = step;
      run(ref, false, 2, h, AdamIsa::Scalar);
      run(got, false, 2, h, isa);
    }
    ASSERT_TRUE(test::same_state(ref, got)) << cpu::adam_isa_name(isa);
  }
}

TEST(AdamwSimd, ValidationNamesTheProblem) {
  AdamState st(10, 1);
  cpu::AdamWSpan s = st.span(false, 1);
  s.m = nullptr;
  EXPECT_THROW(cpu::adamw_validate(s), Error);
  s = st.span(false, 1);
  s.grad_dtype = DType::F16;
  EXPECT_THROW(cpu::adamw_validate(s), Error);
  AdamWHyper h;
  h.step = 0;
  EXPECT_THROW(cpu::adamw_consts(h), Error);
  h = {};
  h.beta2 = 1.0f;
  EXPECT_THROW(cpu::adamw_consts(h), Error);
  EXPECT_THROW(cpu::adamw_simd(st.span(false, 1), 5, 11, cpu::adamw_consts({}), AdamIsa::Scalar),
               Error);
}

// Sets an environment variable for one scope.
struct EnvGuard {
  std::string name, old;
  bool had;
  EnvGuard(const char* n, const char* value) : name(n) {
    const char* o = std::getenv(n);
    had = o != nullptr;
    if (had) old = o;
    setenv(n, value, 1);
  }
  ~EnvGuard() {
    if (had)
      setenv(name.c_str(), old.c_str(), 1);
    else
      unsetenv(name.c_str());
  }
};

TEST(AdamwSimd, EnvVarForcesThePath) {
  {
    EnvGuard g("MART_CPU_ADAM_ISA", "scalar");
    EXPECT_EQ(cpu::adam_isa_default(), AdamIsa::Scalar);
  }
  {
    EnvGuard g("MART_CPU_ADAM_ISA", "sse9");
    EXPECT_THROW(cpu::adam_isa_default(), Error);
  }
  for (AdamIsa isa : {AdamIsa::Avx2, AdamIsa::Avx512}) {
    EnvGuard g("MART_CPU_ADAM_ISA", cpu::adam_isa_name(isa));
    if (cpu::adam_isa_supported(isa))
      EXPECT_EQ(cpu::adam_isa_default(), isa);
    else
      EXPECT_THROW(cpu::adam_isa_default(), Error);
  }
}

}  // namespace
}  // namespace mart
