// Values in loaded weights: NaN, Inf and absurd magnitudes in model.safetensors (a MART checkpoint
// or a Hugging Face file given to --init-from) and bad optimizer state are named before any value
// is written. Before, NaN weights loaded and surfaced as "training diverged ... lower train.lr",
// and a 1e30 weight loaded silently.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "runtime/checkpoint/hf_checkpoint.h"
#include "tests/runtime_checkpoint/ckpt_test_util.h"

namespace mart::ckpt_test {
namespace {

const char* kUpProj = "model.layers.0.mlp.up_proj.weight";

std::vector<float> param0(ExecutorRig& b) {
  std::vector<float> v(b.spec.params[0].numel);
  b.states->read_param(0, v.data());
  return v;
}

// Loading fails naming every needle; the weights of the target model stay as they were.
void expect_refused(const std::function<void(ExecutorRig&)>& load,
                    const std::vector<std::string>& needles) {
  ExecutorRig b(tiny_model(), 2, 8, {}, {}, 777);
  const std::vector<float> before = param0(b);
  const std::string e = error_of([&] { load(b); });
  for (const auto& n : needles) EXPECT_TRUE(has(e, n));
  EXPECT_EQ(param0(b), before);
}

TEST(ValueChecks, NonFiniteWeightsAreCountedAndNamed) {
  RunFixture r;
  const std::string dir = r.save(3);
  const std::string model = dir + "/model/model.safetensors";
  edit_tensor(model, kUpProj, [](std::vector<float>& v) {
    v[0] = v[5] = v[7] = std::numeric_limits<float>::quiet_NaN();
  });
  reseal(dir);
  expect_refused([&](ExecutorRig& b) { load_checkpoint(dir, b.spec, *b.states); },
                 {model + ": tensor " + kUpProj + " has 3 NaN values"});
  edit_tensor(model, kUpProj, [](std::vector<float>& v) {
    v[0] = v[5] = v[7] = 0;
    v[1] = -INFINITY;
  });
  reseal(dir);
  expect_refused([&](ExecutorRig& b) { load_checkpoint(dir, b.spec, *b.states); },
                 {"tensor " + std::string(kUpProj) + " has 1 infinite values"});
}

TEST(ValueChecks, AbsurdMagnitudesAreRefusedAndOrdinaryOnesLoad) {
  RunFixture r;
  const std::string dir = r.save(3);
  const std::string model = dir + "/model/model.safetensors";
  edit_tensor(model, kUpProj, [](std::vector<float>& v) { v[2] = 9999.0f; });  // within the limit
  reseal(dir);
  ExecutorRig ok(tiny_model(), 2, 8, {}, {}, 777);
  EXPECT_EQ(load_checkpoint(dir, ok.spec, *ok.states).step, 3);
  edit_tensor(model, kUpProj, [](std::vector<float>& v) { v[2] = 1e30f; });
  reseal(dir);
  expect_refused(
      [&](ExecutorRig& b) { load_checkpoint(dir, b.spec, *b.states); },
      {"tensor " + std::string(kUpProj) + " has 1 values with |w| > 10000", "largest 1e+30"});
}

TEST(ValueChecks, HuggingFaceInitFromFileIsCheckedToo) {
  RunFixture r;
  const std::string dir = r.save(3);
  const std::string model = dir + "/model/model.safetensors";
  edit_tensor(model, kUpProj, [](std::vector<float>& v) { v[4] = NAN; });
  expect_refused([&](ExecutorRig& b) { load_hf_weights(b.spec, *b.states, model); },
                 {model + ": tensor " + kUpProj + " has 1 NaN values"});
}

TEST(ValueChecks, OptimizerStateIsChecked) {
  RunFixture r;
  const std::string dir = r.save(3);
  const std::string opt = dir + "/optimizer.safetensors";
  const std::string v = std::string(kUpProj) + ".exp_avg_sq";
  edit_tensor(opt, v, [](std::vector<float>& x) { x[0] = -1e-3f; });
  reseal(dir);
  expect_refused([&](ExecutorRig& b) { load_checkpoint(dir, b.spec, *b.states); },
                 {opt + ": tensor " + v + " has 1 negative values"});
  edit_tensor(opt, v, [](std::vector<float>& x) { x[0] = 0; });
  edit_tensor(opt, std::string(kUpProj) + ".exp_avg", [](std::vector<float>& x) { x[1] = NAN; });
  reseal(dir);
  expect_refused([&](ExecutorRig& b) { load_checkpoint(dir, b.spec, *b.states); },
                 {"tensor " + std::string(kUpProj) + ".exp_avg has 1 NaN values"});
}

}  // namespace
}  // namespace mart::ckpt_test
