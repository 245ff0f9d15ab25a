// Whole-model finite-difference gradient check in double precision: the model runs on the F64
// reference backend (the CPU kernels instantiated in double, make_cpu_ops64), through the same
// Session-built executor, model code, arena and activation modes as training. Central differences
// of the executor's loss against its backward, for every parameter tensor.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>

#include "device/device.h"
#include "kernels/ops.h"
#include "runtime/executor.h"
#include "runtime/model/init.h"
#include "runtime/model/model_states.h"
#include "runtime/session.h"
#include "tests/common/session_job.h"

namespace mart {
namespace {

// The F64 ops borrowed by a Session, which builds the rest as the trainer does.
inline SessionOptions f64_options(Device* dev, Ops* ops) {
  SessionOptions so;
  so.device = dev;
  so.ops = ops;
  so.host.pin = PinMode::kOff;  // swapped blocks: tests need no locked memory
  return so;
}

struct Rig {
  std::unique_ptr<Device> dev = make_cpu_device();
  std::unique_ptr<Ops> ops = make_cpu_ops64();
  std::unique_ptr<Session> session;
  const ModelSpec& spec;
  ModelStates* states;
  Executor* exec;
  MicroBatch mb;

  Rig(ModelConfig cfg, std::vector<ActMode> modes, int B, int T)
      : session(std::make_unique<Session>(testutil::rig_job(cfg, B, T, modes),
                                          f64_options(dev.get(), ops.get()))),
        spec(session->spec()),
        states(&session->states()),
        exec(&session->executor()) {
    for (size_t i = 0; i < spec.params.size(); ++i) {
      // Larger than the training init so every path carries signal well above round-off.
      ModelSpec wide = spec;
      wide.cfg.init_std = 0.2f;
      auto v = init_param(wide, static_cast<int>(i), 7);
      std::mt19937 g(static_cast<unsigned>(i));
      std::normal_distribution<float> nd(0.f, 0.1f);
      for (auto& x : v) x += nd(g);  // norm weights and biases away from exactly 1 and 0
      states->write_param(static_cast<int>(i), v.data());
    }
    std::mt19937 g(3);
    for (int i = 0; i < B * T; ++i) {
      mb.inputs.push_back(static_cast<int32_t>(g() % cfg.vocab_size));
      mb.targets.push_back(i % 5 == 4 ? -1 : static_cast<int32_t>(g() % cfg.vocab_size));
    }
  }
  double* p(int id) { return static_cast<double*>(states->param(id)); }
  double* gr(int id) { return static_cast<double*>(states->grad(id)); }
};

void check_model(ModelConfig cfg, std::vector<ActMode> modes) {
  const int B = 2, T = 6;
  Rig r(cfg, modes, B, T);
  r.exec->forward_backward(r.mb);
  // Copy the analytic gradients out before the probes overwrite them.
  std::vector<std::vector<double>> grads;
  for (size_t i = 0; i < r.spec.params.size(); ++i)
    grads.emplace_back(r.gr(i), r.gr(i) + r.spec.params[i].numel);
  std::mt19937 g(11);
  const double h = 1e-5;
  int checked = 0;
  for (size_t i = 0; i < r.spec.params.size(); ++i) {
    const auto& pi = r.spec.params[i];
    for (int k = 0; k < 4; ++k) {
      const uint64_t e = g() % pi.numel;
      double* w = r.p(static_cast<int>(i)) + e;
      const double w0 = *w;
      *w = w0 + h;
      const double lp = r.exec->eval_loss(r.mb);
      *w = w0 - h;
      const double lm = r.exec->eval_loss(r.mb);
      *w = w0;
      const double num = (lp - lm) / (2 * h), ana = grads[i][e];
      const double err = std::fabs(num - ana) / std::max(1e-6, std::fabs(num) + std::fabs(ana));
      EXPECT_LT(err, 1e-5) << pi.name << "[" << e << "]: numeric " << num << " analytic " << ana;
      ++checked;
    }
  }
  EXPECT_GT(checked, 20);
}

ModelConfig tiny(ModelFamily f) {
  ModelConfig c;
  c.family = f;
  c.n_layer = 2;
  c.d_model = 16;
  c.n_head = 4;
  c.n_kv_head = f == ModelFamily::GPT2 ? 4 : 2;
  c.d_ff = f == ModelFamily::GPT2 ? 64 : 24;
  c.vocab_size = 11;
  c.max_seq_len = 8;
  c.tied_embeddings = f == ModelFamily::GPT2;
  return c;
}

TEST(ModelGradcheck, LlamaDoublePrecision) {
  check_model(tiny(ModelFamily::Llama), {ActMode::Keep, ActMode::Keep});
}
TEST(ModelGradcheck, Gpt2DoublePrecision) {
  check_model(tiny(ModelFamily::GPT2), {ActMode::Keep, ActMode::Keep});
}
TEST(ModelGradcheck, RecomputedBlocksDoublePrecision) {
  check_model(tiny(ModelFamily::Llama), {ActMode::Checkpoint, ActMode::Keep});
  check_model(tiny(ModelFamily::GPT2), {ActMode::Checkpoint, ActMode::Checkpoint});
}

// The check itself must be able to fail: a corrupted analytic gradient is caught.
TEST(ModelGradcheck, DetectsAWrongGradient) {
  Rig r(tiny(ModelFamily::Llama), {ActMode::Keep, ActMode::Keep}, 2, 6);
  r.exec->forward_backward(r.mb);
  const int id = r.spec.blocks[1].proj_w;
  const double ana = r.gr(id)[3] * 1.001 + 1e-4;  // a 0.1% error
  double* w = r.p(id) + 3;
  const double w0 = *w, h = 1e-5;
  *w = w0 + h;
  const double lp = r.exec->eval_loss(r.mb);
  *w = w0 - h;
  const double lm = r.exec->eval_loss(r.mb);
  *w = w0;
  const double num = (lp - lm) / (2 * h);
  EXPECT_GT(std::fabs(num - ana) / (std::fabs(num) + std::fabs(ana)), 1e-5);
}

}  // namespace
}  // namespace mart
