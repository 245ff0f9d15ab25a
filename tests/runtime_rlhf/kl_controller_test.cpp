// KL controllers (runtime/rlhf/kl_controller.h): fixed stays put; adaptive follows Ziegler et al.
#include "runtime/rlhf/kl_controller.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace mart::rlhf {
namespace {

TEST(RlhfKlController, FixedNeverChanges) {
  auto c = make_kl_controller({KlControl::kFixed, 0.05});
  c->update(100.0, 1000);
  c->update(0.0, 1000);
  EXPECT_EQ(c->value(), 0.05);
}

TEST(RlhfKlController, AdaptiveHandCase) {
  auto c = make_kl_controller({KlControl::kAdaptive, 0.1, 6.0, 100.0});
  c->update(6.6, 10);  // e = 0.1: * (1 + 0.1 * 10 / 100)
  EXPECT_DOUBLE_EQ(c->value(), 0.1 * 1.01);
  c->update(60.0, 10);  // e clipped to 0.2
  EXPECT_DOUBLE_EQ(c->value(), 0.1 * 1.01 * 1.02);
  c->update(0.0, 10);  // e clipped to -0.2
  EXPECT_DOUBLE_EQ(c->value(), 0.1 * 1.01 * 1.02 * 0.98);
  const double before = c->value();
  c->update(6.0, 50);  // at target: no change
  EXPECT_EQ(c->value(), before);
  c->set_value(0.3);  // checkpoint restore
  EXPECT_EQ(c->value(), 0.3);
}

// Closed loop: KL proportional to 1 / coefficient; the coefficient settles where KL = target.
TEST(RlhfKlController, AdaptiveConvergesToTarget) {
  auto c = make_kl_controller({KlControl::kAdaptive, 0.01, 2.0, 100.0});
  double kl = 0;
  for (int i = 0; i < 3000; ++i) {
    kl = 0.1 / c->value();
    c->update(kl, 10);
  }
  EXPECT_NEAR(kl, 2.0, 0.05);
  EXPECT_NEAR(c->value(), 0.05, 0.002);
}

TEST(RlhfKlController, RejectsBadConfig) {
  EXPECT_THROW(make_kl_controller({KlControl::kFixed, -1.0}), Error);
  EXPECT_THROW(make_kl_controller({KlControl::kAdaptive, 0.1, 0.0, 100.0}), Error);
  EXPECT_THROW(make_kl_controller({KlControl::kAdaptive, 0.1, 6.0, 0.0}), Error);
  auto c = make_kl_controller({KlControl::kAdaptive, 0.1, 6.0, 1.0});
  EXPECT_THROW(c->update(0.0, 10), Error);  // 1 - 0.2 * 10 < 0
  EXPECT_THROW(c->set_value(-0.1), Error);
}

}  // namespace
}  // namespace mart::rlhf
