// One forward + backward without an optimizer step (Executor::forward_backward, what gradient
// checks use): chunked states give the resident run's gradients bit for bit, whether a chunk's
// gradients are still in a device buffer, on the host after offload, or in a persistent chunk.
#include <gtest/gtest.h>

#include "tests/runtime_chunks/chunk_test_util.h"

namespace mart::chunks {
namespace {

class ChunkGradients : public ::testing::TestWithParam<ModelFamily> {};

TEST_P(ChunkGradients, ForwardBackwardGivesResidentGradients) {
  const ModelConfig m = small_model(GetParam());
  ChunkRig ref(m, RigOptions{});
  const ModelSpec& spec = ref.spec;
  const ChunkLayout L = layout_for(spec, kSmallChunkBytes);
  RigOptions o;
  o.chunked = true;
  o.n_persist = 2;
  o.n_buffer = min_chunk_buffers(spec, L, o.n_persist);
  ChunkRig rig(m, o);
  const MicroBatch mb = random_batch(o.B, o.T, m.vocab_size, 7);
  EXPECT_EQ(rig.exec->forward_backward(mb), ref.exec->forward_backward(mb));
  for (size_t i = 0; i < spec.params.size(); ++i) {
    std::vector<float> a(spec.params[i].numel), b(a.size());
    rig.states->read_grad(static_cast<int>(i), a.data());
    ref.states->read_grad(static_cast<int>(i), b.data());
    EXPECT_TRUE(bitwise_equal(a, b)) << spec.params[i].name << " in chunk " << L.tensor_chunk[i];
  }
}

// forward_backward has no optimizer step, so no Adam moment may change. (It once did for
// offloaded chunks: a default StepHyper read as "clipping off" started the in-backward CPU AdamW;
// begin_microbatch now takes nullptr for "no step follows".)
TEST_P(ChunkGradients, ForwardBackwardLeavesAdamMomentsAlone) {
  const ModelConfig m = small_model(GetParam());
  const ModelSpec spec = build_model_spec(m);
  RigOptions o;
  o.chunked = true;
  o.n_persist = 0;
  o.n_buffer = min_chunk_buffers(spec, layout_for(spec, kSmallChunkBytes), 0);
  ChunkRig rig(m, o);
  rig.exec->forward_backward(random_batch(o.B, o.T, m.vocab_size, 7));
  for (size_t i = 0; i < spec.params.size(); ++i) {
    std::vector<float> mm(spec.params[i].numel), vv(mm.size());
    rig.states->read_adam(static_cast<int>(i), mm.data(), vv.data());
    EXPECT_TRUE(bitwise_equal(mm, std::vector<float>(mm.size(), 0.0f))) << spec.params[i].name;
    EXPECT_TRUE(bitwise_equal(vv, std::vector<float>(vv.size(), 0.0f))) << spec.params[i].name;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, ChunkGradients,
                         ::testing::Values(ModelFamily::Llama, ModelFamily::GPT2),
                         [](const auto& i) { return std::string(family_tag(i.param)); });

}  // namespace
}  // namespace mart::chunks
