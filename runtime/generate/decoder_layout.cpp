#include "runtime/generate/decoder_layout.h"

#include "common/error.h"
#include "config/model_family.h"
#include "memory/device_arena.h"

namespace mart {

DecoderLayout decoder_layout(const ModelSpec& spec, const Ops& ops, int B, int chunk) {
  MART_CHECK(B > 0 && chunk > 0, "decoder: batch (", B, ") and chunk (", chunk,
             ") must be positive");
  const auto& c = spec.cfg;
  const uint64_t R = static_cast<uint64_t>(B) * chunk, asz = dtype_size(ops.act_dtype());
  const uint64_t F = c.d_ff, in_f = mlp_in_factor(family_traits(c.family).mlp);
  DecoderLayout L;
  uint64_t o = 0;
  auto take = [&](uint64_t bytes) {
    const uint64_t at = o;
    o += arena_round(bytes);
    return at;
  };
  L.x = take(R * c.d_model * asz);
  L.ln = take(R * c.d_model * asz);
  L.qkv = take(R * c.qkv_width() * asz);
  L.att = take(R * c.n_head * c.head_size() * asz);
  L.tmp = take(R * c.d_model * asz);
  L.fc = take(R * in_f * F * asz);
  L.fc_act = take(R * F * asz);
  L.mean = take(R * ops.stat_size());
  L.rstd = take(R * ops.stat_size());
  L.logits = take(static_cast<uint64_t>(B) * c.vocab_size * 4);
  L.bytes = o;
  return L;
}

}  // namespace mart
