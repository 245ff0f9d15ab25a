// CpuOps::adamw_update (the resident-parameter update of the CPU backend) runs the SIMD AdamW of
// adamw_simd.h on the path MART_CPU_ADAM_ISA picks, and every path is bitwise equal to the scalar
// reference cpu::adamw_update<float> over several steps, with and without a master copy.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "common/error.h"
#include "kernels/cpu/adamw_simd.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/ops.h"
#include "tests/kernels/cpu_test_util.h"

namespace mart::cpu_test {
namespace {

using FV = std::vector<float>;

// Sets MART_CPU_ADAM_ISA for one scope and restores what was there.
class IsaEnv {
 public:
  explicit IsaEnv(const char* value) {
    if (const char* old = std::getenv(kVar)) old_ = old, had_ = true;
    setenv(kVar, value, 1);
  }
  ~IsaEnv() { had_ ? setenv(kVar, old_.c_str(), 1) : unsetenv(kVar); }

 private:
  static constexpr const char* kVar = "MART_CPU_ADAM_ISA";
  std::string old_;
  bool had_ = false;
};

struct State {
  FV p, m, v;
};

// Three steps of the scalar reference, then three through CpuOps on the given path.
TEST(CpuOpsAdamWSimd, EveryPathBitwiseEqualToScalarReferenceOverSteps) {
  const size_t n = 3 * 65536 + 37;  // several OpenMP blocks and a tail no vector width divides
  const FV p0 = randv<float>(n, 60), g = randv<float>(n, 61, -3, 3);
  const auto ops = make_cpu_ops();
  AdamWHyper h;
  h.lr = 3e-3f;
  h.weight_decay = 0.1f;
  h.grad_scale = 0.7f;
  State want{p0, FV(n, 0.0f), FV(n, 0.0f)};
  for (int step = 1; step <= 3; ++step)
    cpu::adamw_update(want.p.data(), g.data(), want.m.data(), want.v.data(), n, h.lr, h.beta1,
                      h.beta2, h.eps, h.weight_decay, step, h.grad_scale);
  int paths = 0;
  for (cpu::AdamIsa isa : {cpu::AdamIsa::Scalar, cpu::AdamIsa::Avx2, cpu::AdamIsa::Avx512}) {
    if (!cpu::adam_isa_supported(isa)) continue;
    ++paths;
    IsaEnv env(cpu::adam_isa_name(isa));
    State got{p0, FV(n, 0.0f), FV(n, 0.0f)};
    FV master = p0, param(n, -99.0f), mm(n, 0.0f), mv(n, 0.0f);
    for (int step = 1; step <= 3; ++step) {
      h.step = step;
      ops->adamw_update(got.p.data(), nullptr, g.data(), got.m.data(), got.v.data(), n, h, 0);
      ops->adamw_update(param.data(), master.data(), g.data(), mm.data(), mv.data(), n, h, 0);
    }
    const char* name = cpu::adam_isa_name(isa);
    EXPECT_TRUE(bitwise_equal(got.p, want.p)) << name;
    EXPECT_TRUE(bitwise_equal(got.m, want.m) && bitwise_equal(got.v, want.v)) << name;
    EXPECT_TRUE(bitwise_equal(master, want.p) && bitwise_equal(param, want.p)) << name;
    EXPECT_TRUE(bitwise_equal(mm, want.m) && bitwise_equal(mv, want.v)) << name;
    EXPECT_FALSE(bitwise_equal(got.p, p0)) << "the update moved the weights";
  }
  EXPECT_GE(paths, 1);
}

// The update goes through the SIMD dispatch: an unknown path name is refused by name (the scalar
// loop it replaced never looked at the variable).
TEST(CpuOpsAdamWSimd, ReadsTheIsaVariable) {
  const auto ops = make_cpu_ops();
  FV p(40, 1.0f), g(40, 0.5f), m(40, 0.0f), v(40, 0.0f);
  AdamWHyper h;
  IsaEnv env("sse9");
  try {
    ops->adamw_update(p.data(), nullptr, g.data(), m.data(), v.data(), p.size(), h, 0);
    FAIL() << "MART_CPU_ADAM_ISA=sse9 was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sse9"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mart::cpu_test
