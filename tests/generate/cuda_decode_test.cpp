// The CUDA decoding kernels (cuda/decode.cu) against the CUDA training forward: cached logits stay
// within bf16 rounding of the full forward's at every step, for both families. Skips (with the
// reason) where no GPU is usable.
#include "device/device.h"
#include "tests/generate/generate_util.h"

namespace mart::gentest {
namespace {

TEST(CudaDecode, CachedLogitsFollowTheFullForward) {
  const std::string why = cuda_unavailable_reason();
  if (!why.empty()) GTEST_SKIP() << "no usable GPU: " << why;
  for (ModelFamily f : {ModelFamily::GPT2, ModelFamily::Llama}) {
    JobConfig cfg = tiny_gen_job(f);
    cfg.backend = "cuda";
    SessionOptions o;
    o.generation = GenerationShape{1, 0, 8};
    Session s(cfg, o);
    s.init_weights(7);
    Decoder dec(s);
    std::vector<int32_t> seq = lcg_prompt(13, 256, 3);
    std::vector<float> logits;
    dec.forward(seq, static_cast<int>(seq.size()), 0, &logits);
    for (int step = 0; step < 8; ++step) {
      const std::vector<float> ref = full_forward_last(s, seq);
      float scale = 0;
      for (float x : ref) scale = std::max(scale, std::abs(x));
      // bf16 keeps ~3 significant digits; two layers and a different attention kernel.
      EXPECT_LT(max_abs_diff(logits, ref), 0.03f * scale + 1e-3f)
          << family_tag(f) << " step " << step;
      const int32_t next =
          static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      seq.push_back(next);
      dec.forward(std::vector<int32_t>{next}, 1, static_cast<int>(seq.size()) - 1, &logits);
    }
  }
}

}  // namespace
}  // namespace mart::gentest
