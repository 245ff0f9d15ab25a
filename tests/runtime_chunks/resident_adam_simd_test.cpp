// Resident parameters on the CPU backend are updated by the SIMD AdamW (kernels/cpu/adamw_simd.h)
// like offloaded chunks: a resident run on each supported path (MART_CPU_ADAM_ISA) ends with
// weights and Adam moments bitwise equal to the scalar path's, and the weights moved from their
// initial values. The variable is read by the resident update (an unknown name is refused).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "kernels/cpu/adamw_simd.h"
#include "tests/runtime_chunks/chunk_test_util.h"

namespace mart::chunks {
namespace {

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

RunResult resident_run(ModelFamily f, const char* isa, std::vector<std::vector<float>>* init) {
  IsaEnv env(isa);
  ChunkRig rig(small_model(f), RigOptions{});
  if (init) {
    init->clear();
    for (size_t i = 0; i < rig.spec.params.size(); ++i) {
      std::vector<float> p(rig.spec.params[i].numel);
      rig.states->read_param(static_cast<int>(i), p.data());
      init->push_back(std::move(p));
    }
  }
  RunOptions r;
  r.steps = 5;
  r.grad_clip = 0.05f;  // a clip scale != 1 reaches the update
  return run_steps(rig, r);
}

class ResidentAdamSimd : public ::testing::TestWithParam<ModelFamily> {};

TEST_P(ResidentAdamSimd, EveryPathGivesTheScalarPathsWeights) {
  const ModelSpec spec = build_model_spec(small_model(GetParam()));
  std::vector<std::vector<float>> init;
  const RunResult ref = resident_run(GetParam(), "scalar", &init);
  size_t moved = 0;
  for (size_t i = 0; i < init.size(); ++i) moved += !bitwise_equal(init[i], ref.params[i]);
  EXPECT_EQ(moved, init.size()) << "every tensor is updated";
  int paths = 0;
  for (cpu::AdamIsa isa : {cpu::AdamIsa::Avx2, cpu::AdamIsa::Avx512}) {
    if (!cpu::adam_isa_supported(isa)) continue;
    ++paths;
    const RunResult got = resident_run(GetParam(), cpu::adam_isa_name(isa), nullptr);
    EXPECT_TRUE(same_states(spec, got, ref)) << cpu::adam_isa_name(isa);
    EXPECT_EQ(got.losses, ref.losses) << cpu::adam_isa_name(isa);
  }
  if (paths == 0) GTEST_SKIP() << "this CPU has neither AVX2 nor AVX-512F";
}

TEST_P(ResidentAdamSimd, ResidentUpdateReadsTheIsaVariable) {
  EXPECT_THROW(resident_run(GetParam(), "sse9", nullptr), Error);
}

INSTANTIATE_TEST_SUITE_P(Families, ResidentAdamSimd,
                         ::testing::Values(ModelFamily::GPT2, ModelFamily::Llama),
                         [](const auto& i) { return std::string(family_tag(i.param)); });

}  // namespace
}  // namespace mart::chunks
