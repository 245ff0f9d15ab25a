// Compress: every reconstructed activation is within its bound of what forward saved (real
// activations of both families, multi-segment fp32 and bf16 bodies), the fp32 statistics come
// back bitwise, an encoding over budget falls back to an exact recompute, the adaptive bound moves
// and is still honoured, and a default-like model trains along the exact loss curve.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "config/block_modes.h"
#include "config/config_loader.h"
#include "runtime/trainer.h"
#include "tests/runtime_acts/acts_util.h"

namespace mart::acts_test {
namespace {

// Compares a body decoded for backward with the one forward saved: act part within eb (exact:
// the difference of two floats is exact in double here), stats bitwise. Returns the max error.
double check_body(const ActBody& body, DType dt, const char* orig, const char* got, float eb,
                  uint64_t* nonzero) {
  double worst = 0;
  for (uint64_t i = 0; i < body.act_values; ++i) {
    float x, y;
    if (dt == DType::F32) {
      std::memcpy(&x, orig + 4 * i, 4);
      std::memcpy(&y, got + 4 * i, 4);
    } else {
      uint16_t a, b;
      std::memcpy(&a, orig + 2 * i, 2);
      std::memcpy(&b, got + 2 * i, 2);
      x = bf16_to_f32(a);
      y = bf16_to_f32(b);
    }
    const double e = std::fabs(static_cast<double>(x) - static_cast<double>(y));
    worst = std::max(worst, e);
    *nonzero += e > 0;
    if (!(e <= eb)) {
      ADD_FAILURE() << "value " << i << ": " << x << " came back as " << y << ", error " << e
                    << " > eb " << eb;
      return worst;
    }
  }
  const uint64_t a = body.act_values * body.act_size;
  EXPECT_EQ(std::memcmp(orig + a, got + a, body.stat_bytes), 0) << "fp32 statistics changed";
  return worst;
}

class CompressFamily : public ::testing::TestWithParam<ModelFamily> {};

TEST_P(CompressFamily, RealActivationsComeBackWithinTheBound) {
  for (float eb : {1e-3f, 1e-2f}) {
    SCOPED_TRACE("eb " + std::to_string(eb));
    const Modes modes = {Z, K, Z, C};
    std::map<int, std::vector<char>> saved;
    ActivationOptions ao;
    ao.eb = eb;
    ActBody body;
    double worst = 0;
    uint64_t checked = 0, nonzero = 0;
    ao.body_hook = [&](int b, bool backward, const void* p) {
      if (modes[b] != Z) return;
      const char* c = static_cast<const char*>(p);
      if (!backward) return saved[b].assign(c, c + body.bytes());
      worst = std::max(worst, check_body(body, DType::F32, saved[b].data(), c, eb, &nonzero));
      ++checked;
    };
    Rig rig(tiny_model(GetParam(), 4), 2, 32, modes, ao);
    body = rig.acts().body();
    Batches data(2, 32);
    for (int s = 0; s < 3; ++s) rig.exec->train_step({data.next()}, hyper(s + 1));
    EXPECT_EQ(checked, 3u * 2);
    EXPECT_GT(nonzero, 0u) << "the codec is lossy at this bound";
    EXPECT_LE(worst, eb);
    for (int b : {0, 2}) {
      const auto& st = rig.acts().stats().blocks[b];
      EXPECT_EQ(st.fallbacks, 0u) << "block " << b << " exceeded the default budget";
      EXPECT_GT(st.encoded_bytes, 0u);
      EXPECT_LT(st.encoded_bytes, body.act_values * body.act_size / 2);
      EXPECT_EQ(st.eb, eb);
      RecordProperty(
          std::string("bits_per_value_b") + std::to_string(b) + "_eb" + std::to_string(eb),
          std::to_string(8.0 * st.encoded_bytes / body.act_values));
    }
    EXPECT_EQ(rig.acts().stats().recomputed_blocks, 1u);  // the checkpointed block only
  }
}

// Over budget: the block is recomputed instead, exactly, and the fallback is counted.
TEST_P(CompressFamily, OverBudgetFallsBackToAnExactRecompute) {
  const ModelConfig m = tiny_model(GetParam(), 3);
  ActivationOptions ao;
  ao.budget.payload_fraction = 0.01;  // 0.32 bits per value: no real activation fits
  Rig keep(m, 2, 16, {K, K, K}), tight(m, 2, 16, {Z, K, Z}, ao);
  Batches d1(2, 16), d2(2, 16);
  for (int s = 0; s < 2; ++s) {
    const auto a = keep.exec->train_step({d1.next(), d1.next()}, hyper(s + 1));
    const auto b = tight.exec->train_step({d2.next(), d2.next()}, hyper(s + 1));
    EXPECT_EQ(a.loss, b.loss);
    for (size_t i = 0; i < keep.spec.params.size(); ++i)
      EXPECT_TRUE(bitwise_equal(keep.grad(static_cast<int>(i)), tight.grad(static_cast<int>(i))))
          << "tensor " << i;
  }
  EXPECT_EQ(tight.acts().stats().blocks[0].fallbacks, 4u);  // 2 steps x 2 micro-batches
  EXPECT_EQ(tight.acts().stats().blocks[2].fallbacks, 4u);
  EXPECT_EQ(tight.acts().stats().recomputed_blocks, 2u);
}

void adaptive_bound_tightens(ModelFamily family, const Modes& modes) {
  ActivationOptions ao;
  ao.eb = 1e-2f;
  ao.adaptive_eb = true;
  ao.adaptive.period = 1;
  ao.adaptive.target = 1e-5;  // far below what eb = 1e-2 gives: tighten every measurement
  ao.adaptive.eb_min = 1e-4;
  std::map<int, std::vector<char>> saved;
  ActBody body;
  const ActivationManager* acts = nullptr;
  uint64_t checked = 0, nonzero = 0;
  ao.body_hook = [&](int b, bool backward, const void* p) {
    const char* c = static_cast<const char*>(p);
    if (!backward) return saved[b].assign(c, c + body.bytes());
    check_body(body, DType::F32, saved[b].data(), c, acts->stats().blocks[b].eb, &nonzero);
    ++checked;
  };
  Rig rig(tiny_model(family, static_cast<int>(modes.size())), 2, 16, modes, ao);
  body = rig.acts().body();
  acts = &rig.acts();
  Batches data(2, 16);
  std::vector<float> bounds;
  for (int s = 0; s < 4; ++s) {
    rig.exec->train_step({data.next()}, hyper(s + 1));
    bounds.push_back(rig.acts().bound(0));
  }
  EXPECT_EQ(checked, 4u * modes.size());
  EXPECT_LT(bounds.back(), 1e-2f);
  EXPECT_GE(bounds.back(), 1e-4f);
  for (size_t i = 1; i < bounds.size(); ++i) EXPECT_LE(bounds[i], bounds[i - 1]);
}

// Adaptive bound: with a strict target the controller tightens the bound, and every encoding
// honours the bound it was made with; likewise for compress_swap (the measurement reads the
// encoding from its staging slot, before the slot is copied to the host).
TEST_P(CompressFamily, AdaptiveBoundTightensAndIsHonoured) {
  for (const Modes& modes : {Modes{Z, Z}, Modes{W, W, W}}) {
    SCOPED_TRACE(modes_str(modes));
    adaptive_bound_tightens(GetParam(), modes);
  }
}

INSTANTIATE_TEST_SUITE_P(Families, CompressFamily,
                         ::testing::Values(ModelFamily::Llama, ModelFamily::GPT2),
                         family_param_name);

// The manager alone on synthetic bodies of 2.5M values (three codec segments), fp32 and bf16
// (the CUDA backend's dtype, here through the CPU codec): bound and raw statistics.
TEST(CompressManager, MultiSegmentBodiesInBothDtypes) {
  for (DType dt : {DType::F32, DType::BF16}) {
    SCOPED_TRACE(std::string(dtype_name(dt)));
    auto dev = make_cpu_device();
    ActBody body{2'500'000, dtype_size(dt), 4096 * 4};
    ASSERT_EQ(codec_segments(body.act_values), 3u);
    const Modes modes = {Z, Z};
    ActivationOptions ao;
    ao.act_dtype = dt;
    ao.eb = 5e-3f;
    ao.budget.payload_fraction = dt == DType::F32 ? 0.5 : 1.0;
    DeviceArena arena(dev.get(), ActivationManager::device_bytes_needed(modes, body, ao.budget));
    ActivationManager acts(*dev, arena, nullptr, modes, body, ao);
    EXPECT_EQ(arena.stats().in_use, acts.stats().device_bytes);
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<std::vector<char>> orig(2, std::vector<char>(body.bytes()));
    for (int b = 0; b < 2; ++b) {
      char* p = static_cast<char*>(acts.forward_begin(b));
      for (uint64_t i = 0; i < body.act_values; ++i) {
        float v = nd(rng) * (i % 1000 == 0 ? 30.0f : 1.0f);  // a few outliers
        if (dt == DType::F32)
          std::memcpy(p + 4 * i, &v, 4);
        else {
          const uint16_t h = f32_to_bf16(v);
          std::memcpy(p + 2 * i, &h, 2);
        }
      }
      for (uint64_t i = 0; i < body.stat_bytes / 4; ++i) {
        const float v = nd(rng);
        std::memcpy(p + body.act_values * body.act_size + 4 * i, &v, 4);
      }
      std::memcpy(orig[b].data(), p, body.bytes());
      acts.forward_end(b);
      std::memset(p, 0x7f, body.bytes());  // the scratch is reused: nothing may survive in it
    }
    acts.backward_start();
    for (int b = 1; b >= 0; --b) {
      bool rec = true;
      const char* got = static_cast<const char*>(acts.backward_begin(b, &rec));
      EXPECT_FALSE(rec);
      uint64_t nonzero = 0;
      check_body(body, dt, orig[b].data(), got, ao.eb, &nonzero);
      EXPECT_GT(nonzero, 0u);
      acts.backward_end(b);
      EXPECT_EQ(acts.stats().blocks[b].fallbacks, 0u);
    }
  }
}

TEST(CompressManager, UnsupportedSetupsFailClearly) {
  auto dev = make_cpu_device();
  ActBody body{1000, 8, 64};
  DeviceArena arena(dev.get(), 1 << 20);
  ActivationOptions ao;
  ao.act_dtype = DType::F64;
  try {
    ActivationManager a(*dev, arena, nullptr, {Z}, body, ao);
    ADD_FAILURE() << "compress of F64 activations was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("encode F32 or BF16"), std::string::npos) << e.what();
  }
  try {
    ActivationManager a(*dev, arena, nullptr, {W, K}, body, ao);
    ADD_FAILURE() << "compress_swap of F64 activations was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("encode F32 or BF16"), std::string::npos) << e.what();
  }
  try {
    ActivationManager a(*dev, arena, nullptr, {W, W, W}, ActBody{1000, 4, 64});
    ADD_FAILURE() << "compress_swap without a host allocator was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("host allocator"), std::string::npos) << e.what();
  }
  try {
    ActivationManager a(*dev, arena, nullptr, {S, S, S}, ActBody{1000, 4, 64});
    ADD_FAILURE() << "swap without a host allocator was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("host allocator"), std::string::npos) << e.what();
  }
  try {
    parse_act_mode("zip");
    ADD_FAILURE() << "an unknown mode was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown activation mode 'zip'"), std::string::npos);
  }
  EXPECT_EQ(arena.stats().in_use, 0u);  // nothing leaked by the failed constructions
}

std::vector<double> losses(const std::string& run_dir) {
  std::ifstream in(run_dir + "/metrics.jsonl");
  std::vector<double> out;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line).at("loss").get<double>());
  return out;
}

// The default job (Llama, synthetic Markov corpus, default optimizer and schedule) shrunk to a
// small width, every block compressed at the default bound (1e-3), against the same job with keep.
// Measured (2026-12-02, counter-based weight init): mean |dloss| 0.0144 over the last 50 of 300
// steps, mean dloss +0.0122, max 0.044 (2026-11-22 with the earlier init: 0.0122 / -0.0059 /
// 0.038; 0.013 / -0.008 / 0.041 with the earlier scalar attention); the runs are deterministic,
// so the margin to the 0.02 tolerance is not noise.
TEST(CompressTraining, FollowsTheExactLossCurve) {
  TempDir tmp("curve");
  JobConfig c;
  c.model.d_model = 32;
  c.model.n_head = 4;
  c.model.n_kv_head = 2;
  c.model.d_ff = 96;
  c.train.micro_batch = 4;
  c.train.seq_len = 32;
  c.train.steps = 300;
  c.train.eval_every = 0;
  auto run = [&](int n_compress, const std::string& name) {
    JobConfig j = c;
    j.activations.counts[ActMode::Compress] = n_compress;
    validate(j);
    TrainOptions o;
    o.run_dir = tmp.file(name);
    o.progress = false;
    Trainer(j, o).run();
    return losses(o.run_dir);
  };
  const auto exact = run(0, "keep");
  const auto lossy = run(c.model.n_layer, "compress");
  ASSERT_EQ(exact.size(), 300u);
  ASSERT_EQ(lossy.size(), 300u);
  EXPECT_EQ(exact[0], lossy[0]);  // forward is untouched: step 1's loss is exact
  double mean_abs = 0, max_abs = 0, last = 0, sgn = 0;
  for (size_t i = 250; i < 300; ++i) {
    sgn += (lossy[i] - exact[i]) / 50;
    mean_abs += std::fabs(exact[i] - lossy[i]) / 50;
    max_abs = std::max(max_abs, std::fabs(exact[i] - lossy[i]));
    last += lossy[i] / 50;
  }
  RecordProperty("mean_abs_dloss_last50", std::to_string(mean_abs));
  RecordProperty("max_abs_dloss_last50", std::to_string(max_abs));
  RecordProperty("mean_dloss_last50", std::to_string(sgn));
  std::printf(
      "compress (eb %g) vs keep, last 50 of 300 steps: mean |dloss| %.5f, mean dloss "
      "%+.5f, max |dloss| %.5f, mean loss %.4f\n",
      c.activations.eb, mean_abs, sgn, max_abs, last);
  EXPECT_LT(mean_abs, 0.02);
  EXPECT_LT(last, exact[0] - 1.0);  // it did train
}

}  // namespace
}  // namespace mart::acts_test
