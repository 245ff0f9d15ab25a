#include <chrono>
#include "tests/runtime_acts/acts_util.h"
namespace mart::acts_test {
TEST(ZZMeasure, DISABLED_DefaultModel) {
  JobConfig j;
  for (float eb : {1e-2f, 1e-3f, 1e-4f}) {
    ActivationOptions ao;
    ao.eb = eb;
    Rig rig(j.model, 8, 128, {Z, Z, Z, Z}, ao);
    Batches data(8, 128);
    for (int s = 0; s < 3; ++s) {
      auto t0 = std::chrono::steady_clock::now();
      rig.exec->train_step({data.next()}, hyper(s + 1));
      double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("eb %g step %d %.3fs:", eb, s, dt);
      for (int b = 0; b < 4; ++b) {
        auto& st = rig.acts().stats().blocks[b];
        std::printf(" b%d %.2f bits/v fb %lu", b, 8.0 * st.encoded_bytes / rig.acts().body().act_values, st.fallbacks);
      }
      std::printf("\n");
    }
  }
  Rig keep(j.model, 8, 128, {K, K, K, K});
  Batches data(8, 128);
  for (int s = 0; s < 3; ++s) {
    auto t0 = std::chrono::steady_clock::now();
    keep.exec->train_step({data.next()}, hyper(s + 1));
    std::printf("keep step %.3fs\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
}
}
