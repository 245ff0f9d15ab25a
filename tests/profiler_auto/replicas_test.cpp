// The planner replicates runtime rules it may not link (planner/plan_layout.h) and reads
// the runtime's memory through the profile. Each replica and each memory figure is checked here
// against the runtime function it stands for, so planner and runtime cannot drift apart.
#include <gtest/gtest.h>

#include "config/config_loader.h"
#include "device/device.h"
#include "kernels/layout_ops.h"
#include "kernels/ops.h"
#include "memory/activation_manager.h"
#include "memory/chunk_manager.h"
#include "planner/cost_model.h"
#include "planner/hardware.h"
#include "profiler/analytic_profile.h"
#include "runtime/backend.h"
#include "runtime/executor.h"
#include "runtime/memory_budget.h"
#include "runtime/model/model_states.h"
#include "tests/common/mode_counts.h"

namespace mart {
namespace {

ModelConfig tiny(ModelFamily f, int layers) {
  ModelConfig m;
  m.family = f;
  m.n_layer = layers;
  m.d_model = 64;
  m.n_head = 4;
  m.n_kv_head = f == ModelFamily::GPT2 ? 4 : 2;
  m.d_ff = 160;
  m.vocab_size = 96;
  m.max_seq_len = 32;
  m.tied_embeddings = f == ModelFamily::GPT2;
  return m;
}

TEST(Replicas, BlockModesEqualResolveBlockModes) {
  int with_cswap = 0;
  for (int n : {1, 5, 8, 13})
    for (int s = 0; s <= n; ++s)
      for (int w = 0; s + w <= n; ++w)
        for (int c = 0; s + w + c <= n; ++c)
          for (int z = 0; s + w + c + z <= n; ++z) {
            JobConfig cfg;
            cfg.model.n_layer = n;
            cfg.activations.counts[ActMode::Swap] = s;
            cfg.activations.counts[ActMode::Checkpoint] = c;
            cfg.activations.counts[ActMode::Compress] = z;
            cfg.activations.counts[ActMode::CompressSwap] = w;
            std::vector<std::string> names;
            for (ActMode m : block_modes_from_counts(n, test::mode_counts(s, c, z, w)))
              names.push_back(act_mode_name(m));
            ASSERT_EQ(names, resolve_block_modes(cfg))
                << n << " " << s << " " << c << " " << z << " " << w;
            with_cswap += w > 0;
          }
  EXPECT_GT(with_cswap, 1000);
}

TEST(Replicas, AcquireOrderEqualsExecutorUseSequence) {
  for (ModelFamily f : {ModelFamily::GPT2, ModelFamily::Llama}) {
    const ModelSpec spec = build_model_spec(tiny(f, 3));
    std::vector<std::pair<int, bool>> want;
    for (const ChunkUse& u : executor_use_sequence(spec)) want.push_back({u.group, u.backward});
    EXPECT_EQ(executor_acquire_order(3, spec.lm_head < 0), want);
  }
}

TEST(Replicas, ChunksAndMinimumBuffersEqualTheRuntime) {
  for (ModelFamily f : {ModelFamily::GPT2, ModelFamily::Llama}) {
    const ModelSpec spec = build_model_spec(tiny(f, 3));
    const ModelProfile m = model_facts(spec, "tiny", 32, 4);
    const auto sizes = chunk_tensor_sizes(spec);
    const auto glue = chunk_tensor_glue(spec);
    const auto grid = chunk_size_grid(m);
    EXPECT_NE(std::find(grid.begin(), grid.end(), choose_chunk_elems(sizes, 4, glue)), grid.end());
    for (uint64_t e : {grid.front(), grid.back(), grid[grid.size() / 2]}) {
      const ModelChunks mc = model_chunks(m, e);
      const ChunkLayout L = layout_chunks(sizes, e, glue);
      ASSERT_EQ(mc.layout.tensor_chunk, L.tensor_chunk);
      for (int np = 0; np <= L.n_chunks(); ++np)
        ASSERT_EQ(min_buffers(m, mc, np), min_chunk_buffers(spec, L, np)) << e << " " << np;
    }
  }
}

// The predicted device peak of a plan is the runtime's own budget (memory_budget.h), exactly.
TEST(Replicas, PredictedMemoryEqualsTheRuntimeBudget) {
  int checked = 0, with_cswap = 0;
  for (ModelFamily f : {ModelFamily::GPT2, ModelFamily::Llama}) {
    JobConfig cfg;
    cfg.model = tiny(f, 5);
    cfg.train.micro_batch = 2;
    cfg.train.seq_len = 32;
    cfg.train.grad_accum = 2;
    for (const char* hw : {"cpu", "h100-sxm"}) {
      const Profile p = analytic_profile(cfg, builtin_hardware(hw));
      const ModelSpec spec = build_model_spec(cfg.model);
      std::unique_ptr<Ops> ops =
          p.hardware.backend == "cpu" ? make_cpu_ops() : make_cuda_layout_ops();
      for (int B : {1, 2}) {
        for (uint64_t e : chunk_size_grid(p.model)) {
          CostContext ctx(p, B, e);
          const ChunkLayout L = layout_chunks(chunk_tensor_sizes(spec), e, chunk_tensor_glue(spec));
          for (int np : {0, L.n_chunks() / 2, L.n_chunks()}) {
            const int nb = std::max(1, min_chunk_buffers(spec, L, np)) + 1;
            for (auto [s, c, z, w] : {std::tuple{0, 0, 0, 0},
                                      {3, 1, 0, 0},
                                      {1, 2, 2, 0},
                                      {0, 5, 0, 0},
                                      {0, 0, 0, 5},
                                      {1, 1, 0, 3},
                                      {0, 1, 1, 2}}) {
              if (z > 0 && !p.supports("compress")) continue;
              if (w > 0 && !p.supports("compress_swap")) continue;
              PlanChoice plan{B, 2 / B, e, np, nb, test::mode_counts(s, c, z, w)};
              CostOptions co;
              co.compress.payload_fraction = w == 5 ? 0.3 : 0.5;
              const MemoryPrediction mp = predict_memory(ctx, plan, co);
              const auto modes = block_modes_from_counts(5, test::mode_counts(s, c, z, w));
              const DeviceBudget d = device_budget(
                  spec, *ops, B, 32, modes,
                  ChunkManager::device_bytes(L, np, nb, ops->act_dtype(), spec.params.size()),
                  co.compress);
              ASSERT_EQ(mp.device, d.total())
                  << hw << " B" << B << " e" << e << " np" << np << " w" << w;
              const ActMemory am = ActivationManager::memory_needed(
                  modes, executor_layout(spec, *ops, B, 32).body, co.compress, false);
              ASSERT_EQ(mp.swap_host, am.host_bytes);
              with_cswap += w > 0;
              ASSERT_EQ(mp.chunk_host, ChunkManager::host_bytes(L, np, ops->act_dtype()));
              ++checked;
            }
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 100);
  EXPECT_GT(with_cswap, 50);
}

// The layout-only CUDA ops give the CUDA backend's classifier workspace (checked against the
// real CudaOps where this build and machine have CUDA).
TEST(Replicas, CudaClassifierWorkspace) {
  EXPECT_EQ(cuda_classifier_workspace_bytes(1024, 50257), 1024u * 50304 * 2);
  EXPECT_EQ(cuda_classifier_workspace_bytes(1 << 20, 128256) % 256, 0u);
  EXPECT_EQ(make_cuda_layout_ops()->act_dtype(), DType::BF16);
#ifdef MART_HAVE_CUDA
  if (!cuda_unavailable_reason().empty()) GTEST_SKIP() << cuda_unavailable_reason();
  auto dev = make_cuda_device();
  auto ops = make_ops(*dev);
  for (int N : {1, 100, 1024, 8192, 1 << 17})
    for (int V : {96, 50257, 128256})
      EXPECT_EQ(cuda_classifier_workspace_bytes(N, V), ops->classifier_workspace_bytes(N, V));
#endif
}

}  // namespace
}  // namespace mart
