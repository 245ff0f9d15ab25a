// The chunk pipeline's own guards, below the Trainer's checks: a chunk manager given fewer
// buffers than a group needs fails at the acquisition that cannot be served, naming the knob.
#include <gtest/gtest.h>

#include "tests/runtime_chunks/chunk_test_util.h"

namespace mart::chunks {
namespace {

TEST(ChunkErrors, AdapterRefusesTooFewBuffersNamingTheCount) {
  for (ModelFamily f : {ModelFamily::Llama, ModelFamily::GPT2}) {
    SCOPED_TRACE(family_tag(f));
    const ModelSpec spec = build_model_spec(small_model(f));
    const int need = min_chunk_buffers(spec, layout_for(spec, kSmallChunkBytes), 0);
    RigOptions o;
    o.chunked = true;
    o.n_persist = 0;
    o.n_buffer = need - 1;
    const std::string msg = error_of([&] { ChunkRig rig(small_model(f), o); });
    EXPECT_TRUE(has(msg, "memory.n_buffer >= " + std::to_string(need)));
    EXPECT_TRUE(has(msg, "spans " + std::to_string(need) + " offloaded chunks"));
  }
}

TEST(ChunkErrors, ManagerWithTooFewBuffersFailsAtTheAcquisition) {
  const ModelConfig m = small_model(ModelFamily::Llama);
  const ModelSpec spec = build_model_spec(m);
  const ChunkLayout L = layout_for(spec, kSmallChunkBytes);
  RigOptions o;
  o.chunked = true;
  o.direct_manager = true;  // no adapter check in front of the manager
  o.n_persist = 0;
  o.n_buffer = min_chunk_buffers(spec, L, 0) - 1;
  ASSERT_GE(o.n_buffer, 1);
  ChunkRig rig(m, o);
  RunOptions r;
  r.steps = 1;
  const std::string msg = error_of([&] { run_steps(rig, r); });
  EXPECT_TRUE(has(msg, "memory.n_buffer = " + std::to_string(o.n_buffer) + " is too small"));
}

TEST(ChunkErrors, OffloadWithoutBuffersIsRefused) {
  const ModelConfig m = small_model(ModelFamily::GPT2);
  RigOptions o;
  o.chunked = true;
  o.direct_manager = true;
  o.n_persist = 2;
  o.n_buffer = 0;
  const std::string msg = error_of([&] { ChunkRig rig(m, o); });
  EXPECT_TRUE(has(msg, "memory.n_buffer must be at least 1"));
}

}  // namespace
}  // namespace mart::chunks
