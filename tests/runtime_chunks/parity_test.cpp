// Offloading model states changes where bytes live, never what is computed: 20 training steps
// with chunked states give losses, grad norms, final weights and Adam moments bitwise identical
// to the all-resident run, for both families, for several (n_persist, n_buffer) including no
// persistent chunk and the fewest buffers the executor can run with, with clipping on (CPU updates
// after the global norm, in forward order) and off (CPU updates during backward), and with
// gradient accumulation (offloaded gradients are uploaded back and accumulated on the device).
#include <gtest/gtest.h>

#include <map>
#include <tuple>

#include "tests/runtime_chunks/chunk_test_util.h"

namespace mart::chunks {
namespace {

// Clipping threshold below every step's norm in these runs, so the clip scale (not 1) is applied.
constexpr float kClip = 0.05f;

TEST(ChunkLayoutShape, SmallModelsSpanSeveralChunksAndKeepGluedRunsWhole) {
  for (ModelFamily f : {ModelFamily::Llama, ModelFamily::GPT2}) {
    SCOPED_TRACE(family_tag(f));
    const ModelSpec spec = build_model_spec(small_model(f));
    const ChunkLayout L = layout_for(spec, kSmallChunkBytes);
    EXPECT_GE(L.n_chunks(), 6);
    // Some block's tensors lie in more than one chunk (a group spans chunks).
    int widest = 0;
    for (int g = 1; g <= spec.cfg.n_layer; ++g) {
      std::vector<int> cs;
      for (size_t t = 0; t < spec.params.size(); ++t)
        if (spec.params[t].group == g &&
            std::find(cs.begin(), cs.end(), L.tensor_chunk[t]) == cs.end())
          cs.push_back(L.tensor_chunk[t]);
      widest = std::max(widest, static_cast<int>(cs.size()));
    }
    EXPECT_GE(widest, 2);
    EXPECT_GE(min_chunk_buffers(spec, L, 0), 2);
    // Glued runs (Llama q|k|v, gate|up) are contiguous inside one chunk.
    int glued = 0;
    for (size_t t = 0; t + 1 < spec.params.size(); ++t)
      if (spec.params[t].glued_to_next) {
        ++glued;
        EXPECT_EQ(L.tensor_chunk[t], L.tensor_chunk[t + 1]) << spec.params[t].name;
        EXPECT_EQ(L.tensor_offset[t] + spec.params[t].numel, L.tensor_offset[t + 1])
            << spec.params[t].name;
      }
    if (f == ModelFamily::Llama) {
      EXPECT_EQ(glued, 3 * spec.cfg.n_layer);  // q->k, k->v, gate->up
    } else {
      EXPECT_EQ(glued, 0);
      EXPECT_EQ(spec.head_weight(), spec.wte);  // tied head
    }
  }
}

struct Case {
  ModelFamily family;
  int n_persist;  // >= 0, or kAllButOne / kHalf (resolved against the layout)
  int n_buffer;   // extra buffers over min_chunk_buffers, or kEveryChunk
  bool clip;
  int grad_accum;
};
constexpr int kAllButOne = -10, kHalf = -11, kEveryChunk = -20;

std::string case_name(const ::testing::TestParamInfo<Case>& i) {
  const Case& c = i.param;
  auto np = c.n_persist == kAllButOne ? std::string("allbut1")
            : c.n_persist == kHalf    ? std::string("half")
            : c.n_persist == -1       ? std::string("all")
                                      : std::to_string(c.n_persist);
  auto nb = c.n_buffer == kEveryChunk ? std::string("every") : "min" + std::to_string(c.n_buffer);
  return std::string(family_tag(c.family)) + "_persist_" + np + "_buffers_" + nb +
         (c.clip ? "_clip" : "_noclip") + "_accum" + std::to_string(c.grad_accum);
}

RunOptions run_options(const Case& c) {
  RunOptions r;
  r.grad_clip = c.clip ? kClip : 0.0f;
  r.grad_accum = c.grad_accum;
  return r;
}

// The resident run of each (family, clip, accum), computed once per process.
const RunResult& resident(const Case& c) {
  static std::map<std::tuple<int, bool, int>, RunResult> cache;
  auto key = std::make_tuple(static_cast<int>(c.family), c.clip, c.grad_accum);
  auto it = cache.find(key);
  if (it == cache.end()) {
    ChunkRig rig(small_model(c.family), RigOptions{});
    it = cache.emplace(key, run_steps(rig, run_options(c))).first;
  }
  return it->second;
}

class ChunkParity : public ::testing::TestWithParam<Case> {};

TEST_P(ChunkParity, TwentyStepsBitwiseEqualToResident) {
  const Case& c = GetParam();
  const ModelConfig m = small_model(c.family);
  const ModelSpec spec = build_model_spec(m);
  const ChunkLayout L = layout_for(spec, kSmallChunkBytes);
  const int nc = L.n_chunks();
  RigOptions o;
  o.chunked = true;
  o.n_persist = c.n_persist == kAllButOne ? nc - 1 : c.n_persist == kHalf ? nc / 2 : c.n_persist;
  const int need = min_chunk_buffers(spec, L, o.n_persist);
  // At least one: memory.mode manual needs a buffer (config validation) even when every chunk
  // persists and the executor would need none.
  o.n_buffer =
      c.n_buffer == kEveryChunk ? nc - std::max(o.n_persist, 0) : std::max(1, need + c.n_buffer);
  if (o.n_persist >= 0) {
    ASSERT_GE(need, 1);
    ASSERT_LT(o.n_persist, nc);
  }

  const RunResult& ref = resident(c);
  ChunkRig rig(m, o);
  const RunResult got = run_steps(rig, run_options(c));

  ASSERT_EQ(got.losses.size(), 20u);
  for (size_t s = 0; s < ref.losses.size(); ++s) {
    EXPECT_EQ(got.losses[s], ref.losses[s]) << "loss of step " << s + 1;
    EXPECT_EQ(got.norms[s], ref.norms[s]) << "grad norm of step " << s + 1;
  }
  EXPECT_TRUE(same_states(spec, got, ref));
  // The run learns (so equal losses are not equal by being constant) and, with clipping on,
  // the clip scale is really applied.
  EXPECT_LT(ref.losses.back(), ref.losses.front());
  if (c.clip) {
    EXPECT_GT(ref.norms.front(), kClip);
  }
  // Device memory: exactly the prediction (the arena's capacity), never more.
  EXPECT_EQ(rig.arena->stats().peak_in_use, rig.budget.total());
  EXPECT_NO_THROW(rig.arena->check_invariants());
}

INSTANTIATE_TEST_SUITE_P(
    Offload, ChunkParity,
    ::testing::Values(
        // nothing persistent, fewest buffers: every group streams through the buffers
        Case{ModelFamily::Llama, 0, 0, true, 1}, Case{ModelFamily::Llama, 0, 0, false, 1},
        Case{ModelFamily::GPT2, 0, 0, true, 1}, Case{ModelFamily::GPT2, 0, 0, false, 1},
        // spare buffers: prefetch runs ahead, backward reuses forward's last chunks
        Case{ModelFamily::Llama, 0, 1, true, 2}, Case{ModelFamily::GPT2, 0, 2, false, 2},
        // a buffer for every chunk: nothing is evicted within a step
        Case{ModelFamily::Llama, 0, kEveryChunk, false, 2},
        Case{ModelFamily::GPT2, 0, kEveryChunk, true, 1},
        // mixed: persistent prefix updated on the device, the rest on the CPU
        Case{ModelFamily::Llama, kHalf, 0, false, 1}, Case{ModelFamily::GPT2, kHalf, 1, true, 2},
        Case{ModelFamily::Llama, kAllButOne, 0, true, 1},
        Case{ModelFamily::GPT2, kAllButOne, 0, false, 1},
        // every chunk persistent: the chunked layout itself changes nothing
        Case{ModelFamily::Llama, -1, 0, true, 1}, Case{ModelFamily::GPT2, -1, 0, false, 2}),
    case_name);

}  // namespace
}  // namespace mart::chunks
