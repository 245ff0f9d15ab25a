// The per-layer adaptive bound controller on synthetic error signals, and driven by the codec.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "codec_test_util.h"
#include "common/error.h"
#include "kernels/codec.h"
#include "kernels/codec_adaptive.h"

namespace mart::codec::test {
namespace {

// Deterministic noise in [-1, 1].
struct Lcg {
  uint64_t s;
  double next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<double>(s >> 11) / static_cast<double>(1ull << 52) - 1.0;
  }
};

TEST(CodecAdaptive, ConvergesIntoTheBandAndStaysForLinearLayers) {
  AdaptiveConfig cfg;
  cfg.eb_min = 1e-7;
  cfg.eb_max = 1.0;
  const std::vector<double> gain = {0.01, 1.0, 10.0, 300.0};  // metric = gain * eb
  AdaptiveBound ctl(static_cast<int>(gain.size()), cfg);
  for (int round = 0; round < 60; ++round)
    for (int l = 0; l < ctl.layers(); ++l) ctl.observe(l, gain[l] * ctl.eb(l));
  for (int l = 0; l < ctl.layers(); ++l) {
    const double m = gain[l] * ctl.eb(l);
    EXPECT_LE(m, cfg.target) << "layer " << l;
    EXPECT_GE(m, cfg.low * cfg.target) << "layer " << l;
    // Settled: further measurements hold.
    for (int k = 0; k < 10; ++k) EXPECT_EQ(ctl.observe(l, gain[l] * ctl.eb(l)), BoundAction::Hold);
  }
  // More sensitive layers get tighter bounds.
  EXPECT_GT(ctl.eb(1), ctl.eb(2));
  EXPECT_GT(ctl.eb(2), ctl.eb(3));
}

TEST(CodecAdaptive, ClampsToTheLimits) {
  AdaptiveConfig cfg;
  AdaptiveBound ctl(2, cfg);
  for (int i = 0; i < 100; ++i) {
    ctl.observe(0, 1e9 * ctl.eb(0));   // hopelessly sensitive
    ctl.observe(1, 1e-9 * ctl.eb(1));  // insensitive
    EXPECT_GE(ctl.eb(0), static_cast<float>(cfg.eb_min));
    EXPECT_LE(ctl.eb(1), static_cast<float>(cfg.eb_max));
  }
  EXPECT_EQ(ctl.eb(0), static_cast<float>(cfg.eb_min));
  EXPECT_EQ(ctl.eb(1), static_cast<float>(cfg.eb_max));
}

TEST(CodecAdaptive, TightensAtOnceLoosensWithPatience) {
  AdaptiveConfig cfg;
  cfg.patience = 3;
  AdaptiveBound ctl(1, cfg);
  const float eb0 = ctl.eb(0);
  EXPECT_EQ(ctl.observe(0, 2 * cfg.target), BoundAction::Tighten);
  EXPECT_FLOAT_EQ(ctl.eb(0), eb0 * 0.5f);
  EXPECT_EQ(ctl.observe(0, 0.0), BoundAction::Hold);
  EXPECT_EQ(ctl.observe(0, 0.0), BoundAction::Hold);
  EXPECT_EQ(ctl.observe(0, 0.0), BoundAction::Loosen);
  EXPECT_FLOAT_EQ(ctl.eb(0), eb0 * 0.5f * 1.25f);
  // An in-band measurement resets the streak.
  ctl.observe(0, 0.0);
  ctl.observe(0, 0.5 * cfg.target);
  EXPECT_EQ(ctl.observe(0, 0.0), BoundAction::Hold);
  EXPECT_EQ(ctl.last_action(0), BoundAction::Hold);
}

TEST(CodecAdaptive, FollowsAChangeInSensitivity) {
  AdaptiveConfig cfg;
  cfg.eb_min = 1e-8;
  AdaptiveBound ctl(1, cfg);
  double gain = 1.0;
  for (int i = 0; i < 40; ++i) ctl.observe(0, gain * ctl.eb(0));
  const float before = ctl.eb(0);
  gain = 64.0;  // the layer became 64x more sensitive
  int steps = 0;
  while (gain * ctl.eb(0) > cfg.target && steps < 100) {
    ctl.observe(0, gain * ctl.eb(0));
    ++steps;
  }
  EXPECT_LE(steps, 7);  // log2(64) halvings at most, plus the band
  EXPECT_LT(ctl.eb(0), before / 16);
  EXPECT_LE(gain * ctl.eb(0), cfg.target);
}

TEST(CodecAdaptive, NoisyNonlinearSignalStaysNearTheTarget) {
  AdaptiveConfig cfg;
  cfg.eb_min = 1e-8;
  AdaptiveBound ctl(1, cfg);
  Lcg rng{42};
  int above = 0;
  for (int i = 0; i < 400; ++i) {
    const double m = 5.0 * std::pow(ctl.eb(0), 1.5) * (1 + 0.2 * rng.next());
    ctl.observe(0, m);
    if (i >= 100) above += m > cfg.target;
  }
  const double m_clean = 5.0 * std::pow(ctl.eb(0), 1.5);
  EXPECT_GT(m_clean, 0.1 * cfg.target);
  EXPECT_LT(m_clean, 1.3 * cfg.target);
  EXPECT_LT(above, 60);  // mostly below the target after the transient
}

TEST(CodecAdaptive, IsDeterministic) {
  AdaptiveConfig cfg;
  AdaptiveBound a(3, cfg), b(3, cfg);
  Lcg r1{7}, r2{7};
  for (int i = 0; i < 200; ++i)
    for (int l = 0; l < 3; ++l) {
      a.observe(l, (l + 1) * a.eb(l) * (1 + 0.5 * r1.next()));
      b.observe(l, (l + 1) * b.eb(l) * (1 + 0.5 * r2.next()));
      ASSERT_EQ(a.eb(l), b.eb(l));
    }
}

TEST(CodecAdaptive, MeasurementSchedule) {
  AdaptiveConfig cfg;
  cfg.period = 50;
  AdaptiveBound ctl(1, cfg);
  EXPECT_TRUE(ctl.should_measure(0));
  EXPECT_FALSE(ctl.should_measure(49));
  EXPECT_TRUE(ctl.should_measure(100));
}

TEST(CodecAdaptive, RejectsBadConfigAndInputs) {
  auto make = [](auto edit) {
    AdaptiveConfig c;
    edit(c);
    AdaptiveBound b(1, c);
  };
  EXPECT_THROW(make([](AdaptiveConfig& c) { c.eb_min = 0; }), Error);
  EXPECT_THROW(make([](AdaptiveConfig& c) { c.eb_min = 1, c.eb_max = 0.5; }), Error);
  EXPECT_THROW(make([](AdaptiveConfig& c) { c.eb_init = 10; }), Error);
  EXPECT_THROW(make([](AdaptiveConfig& c) { c.tighten = 1; }), Error);
  EXPECT_THROW(make([](AdaptiveConfig& c) { c.loosen = 1; }), Error);
  EXPECT_THROW(make([](AdaptiveConfig& c) { c.low = 1; }), Error);
  EXPECT_THROW(make([](AdaptiveConfig& c) { c.period = 0; }), Error);
  EXPECT_THROW(make([](AdaptiveConfig& c) { c.patience = 0; }), Error);
  AdaptiveBound ctl(2, AdaptiveConfig{});
  EXPECT_THROW(ctl.observe(2, 0.1), Error);
  EXPECT_THROW(ctl.observe(0, -1.0), Error);
  EXPECT_THROW(ctl.observe(0, std::nan("")), Error);
}

TEST(CodecAdaptive, RelativeL2Error) {
  const std::vector<float> a = {3, 4}, b = {3, 4.5f}, z = {0, 0};
  EXPECT_DOUBLE_EQ(relative_l2_error(a.data(), b.data(), 2), 0.1);
  EXPECT_EQ(relative_l2_error(z.data(), z.data(), 2), 0.0);
  EXPECT_TRUE(std::isinf(relative_l2_error(z.data(), a.data(), 2)));
}

// Closed loop with the real codec: the metric is the relative L2 error of reconstructed
// activations of three "layers" with different scales; the controller finds per-layer bounds
// that keep it in the band (quantisation error ~ eb / sqrt(3) per value, so eb ends near
// target * std * sqrt(3) for each layer).
TEST(CodecAdaptive, DrivesTheCodecToATargetRelativeError) {
  AdaptiveConfig cfg;
  cfg.target = 1e-3;
  cfg.eb_init = 1e-2;
  cfg.eb_min = 1e-7;
  cfg.eb_max = 10;
  cfg.patience = 1;
  const std::vector<float> scale = {0.05f, 1.0f, 20.0f};
  AdaptiveBound ctl(3, cfg);
  std::vector<float> y(8192);
  double m = 0;
  for (int round = 0; round < 40; ++round)
    for (int l = 0; l < 3; ++l) {
      const auto x = normals(y.size(), 0.0f, scale[l], 100 * round + l);
      const auto enc = expect_roundtrip(x, ctl.eb(l));
      decode(enc.data(), enc.size(), y.data());
      m = relative_l2_error(x.data(), y.data(), x.size());
      ctl.observe(l, m);
      if (round == 39) {
        EXPECT_LE(m, cfg.target) << "layer " << l;
        EXPECT_GE(m, cfg.low * cfg.target) << "layer " << l;
      }
    }
  EXPECT_LT(ctl.eb(0), ctl.eb(1));
  EXPECT_LT(ctl.eb(1), ctl.eb(2));
}

}  // namespace
}  // namespace mart::codec::test
