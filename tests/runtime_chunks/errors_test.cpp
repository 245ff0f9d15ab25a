// The chunk pipeline's own guards, below the Trainer's checks: a chunk manager given fewer
// buffers than a group needs fails at the acquisition that cannot be served, naming the knob.
#include <gtest/gtest.h>

#include "runtime/backend.h"
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

// The manager by hand (a Session validates memory.n_buffer >= 1 first, with the config's message).
TEST(ChunkErrors, OffloadWithoutBuffersIsRefused) {
  const ModelSpec spec = build_model_spec(small_model(ModelFamily::GPT2));
  auto dev = make_cpu_device();
  auto ops = make_ops(*dev);
  DeviceArena arena(dev.get(), 1 << 20);
  HostAllocatorOptions ho;
  ho.pin = PinMode::kOff;
  ho.slab_bytes = 8ull << 20;
  HostAllocator host(NumaTopology::load_this_system(), ho);
  CpuAdam adam(CpuAdamOptions{});
  std::vector<ChunkTensor> tensors;
  for (auto& p : spec.params) tensors.push_back({p.numel, p.group, p.decay});
  ChunkManagerOptions co;
  co.n_persist = 2;
  co.n_buffer = 0;
  co.use_sequence = executor_use_sequence(spec);
  const std::string msg = error_of([&] {
    ChunkManager cm(*dev, *ops, arena, host, adam, layout_for(spec, kSmallChunkBytes),
                    std::move(tensors), co);
  });
  EXPECT_TRUE(has(msg, "memory.n_buffer must be at least 1"));
}

}  // namespace
}  // namespace mart::chunks

namespace mart::chunks {
namespace {

// What min_chunk_buffers said before the tied embedding's live gradients were counted: the most
// offloaded chunks of any one group, or of the head and group 0 together.
int groups_only_min(const ModelSpec& spec, const ChunkLayout& L, int np) {
  auto count = [&](std::initializer_list<int> groups) {
    std::vector<int> cs;
    for (size_t t = 0; t < spec.params.size(); ++t)
      for (int g : groups)
        if (spec.params[t].group == g && L.tensor_chunk[t] >= np &&
            std::find(cs.begin(), cs.end(), L.tensor_chunk[t]) == cs.end())
          cs.push_back(L.tensor_chunk[t]);
    return static_cast<int>(cs.size());
  };
  int need = count({spec.head_group(), 0});
  for (int g = 0; g < spec.n_groups(); ++g) need = std::max(need, count({g}));
  return need;
}

// GPT-2 ties the classifier to the embedding: the chunk holding it gets gradients at the head's
// backward and keeps them until group 0's, so it occupies a buffer through the whole backward.
// min_chunk_buffers counts it: with exactly that many buffers every layout trains (through the
// adapter's check and the manager), and for some layouts that is more than the groups alone
// need (the case that used to pass the check and then fail mid-step).
TEST(ChunkErrors, TiedEmbeddingChunkHoldsABufferThroughBackward) {
  const ModelConfig m = small_model(ModelFamily::GPT2);
  const ModelSpec spec = build_model_spec(m);
  int more = 0;
  for (uint64_t kib : {64, 80, 96, 128, 160, 200, 256}) {
    SCOPED_TRACE(std::to_string(kib) + " KiB chunks");
    const ChunkLayout L = layout_for(spec, kib << 10);
    RigOptions o;
    o.chunked = true;
    o.chunk_bytes = kib << 10;
    o.n_persist = 0;
    o.n_buffer = min_chunk_buffers(spec, L, 0);
    more += o.n_buffer > groups_only_min(spec, L, 0);
    ChunkRig rig(m, o);
    RunOptions r;
    r.steps = 2;
    r.grad_accum = 2;
    EXPECT_EQ(run_steps(rig, r).losses.size(), 2u);
  }
  EXPECT_GT(more, 0) << "no layout exercised the live-gradient term";
}

}  // namespace
}  // namespace mart::chunks
