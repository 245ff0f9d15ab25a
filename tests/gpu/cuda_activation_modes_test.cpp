// Activation modes on the CUDA backend, end to end through the Trainer (bf16 activations, the
// CUDA codec, pinned host memory, real copy streams): swap trains bitwise like keep, compress_swap
// bitwise like compress, compress stays within a small distance of keep, and every run's arena
// peak is the predicted device budget to the byte. Skips, saying why, without a usable GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/config_validate.h"
#include "device/device.h"
#include "runtime/trainer.h"
#include "tests/common/test_util.h"

namespace mart {
namespace {

struct ModeRun {
  std::vector<double> losses;  // per step
  uint64_t peak = 0, budget = 0, pinned = 0;
  nlohmann::json activations;
};

ModeRun train(const std::vector<std::string>& modes, const std::string& tag) {
  testutil::TempDir tmp("cuda_acts_" + tag);
  JobConfig c;
  c.backend = "cuda";
  c.model.n_layer = static_cast<int>(modes.size());
  c.model.d_model = 256;
  c.model.n_head = 8;
  c.model.n_kv_head = 4;
  c.model.d_ff = 768;
  c.train.micro_batch = 8;
  c.train.seq_len = 128;
  c.train.grad_accum = 2;
  c.train.steps = 6;
  c.train.warmup_steps = 1;
  c.train.eval_every = 0;
  c.activations.modes = modes;
  validate(c);
  TrainOptions o;
  o.run_dir = tmp.file("run");
  o.progress = false;
  const TrainSummary s = Trainer(c, o).run();
  ModeRun r;
  std::ifstream in(o.run_dir + "/metrics.jsonl");
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) r.losses.push_back(nlohmann::json::parse(line).at("loss").get<double>());
  const nlohmann::json sum = nlohmann::json::parse(std::ifstream(s.summary_path));
  r.peak = s.peak_device_bytes;
  r.budget = sum.at("plan").at("device_budget_bytes").get<uint64_t>();
  r.pinned = sum.at("plan").at("pinned_host_bytes").get<uint64_t>();
  r.activations = sum.at("activations");
  return r;
}

TEST(CudaActivationModes, SwapIsKeepAndCompressSwapIsCompress) {
  const std::string why = cuda_unavailable_reason();
  if (!why.empty()) GTEST_SKIP() << "no usable GPU: " << why;
  const ModeRun keep = train({"keep", "keep", "keep", "keep", "keep", "keep"}, "keep");
  const ModeRun swap = train({"swap", "swap", "swap", "swap", "keep", "keep"}, "swap");
  const ModeRun comp = train({"compress", "compress", "compress", "compress", "keep", "keep"}, "z");
  const ModeRun cswap = train(
      {"compress_swap", "compress_swap", "compress_swap", "compress_swap", "keep", "keep"}, "w");
  for (const ModeRun* r : {&keep, &swap, &comp, &cswap}) {
    EXPECT_EQ(r->peak, r->budget) << "arena peak differs from the predicted budget";
    ASSERT_EQ(r->losses.size(), 6u);
  }
  EXPECT_EQ(swap.losses, keep.losses) << "swap must only move bytes";
  EXPECT_EQ(cswap.losses, comp.losses) << "compress_swap stores what compress stores";
  for (size_t i = 0; i < keep.losses.size(); ++i)
    EXPECT_NEAR(comp.losses[i], keep.losses[i], 0.05) << "step " << i + 1;
  EXPECT_GT(swap.activations.at("swap_out_bytes").get<uint64_t>(), 0u);
  EXPECT_GT(cswap.activations.at("compress_swap_out_bytes").get<uint64_t>(), 0u);
  EXPECT_LT(cswap.activations.at("compress_swap_out_bytes").get<uint64_t>(),
            swap.activations.at("swap_out_bytes").get<uint64_t>())
      << "encodings travel instead of bodies";
  EXPECT_LT(cswap.peak, comp.peak);
  // bf16 bodies at the default 8-bit payload budget: fallbacks (exact recomputes) are allowed,
  // but are worth seeing.
  RecordProperty("compressed_blocks", cswap.activations.at("compressed_blocks").dump());
  RecordProperty("swap_out_bytes", swap.activations.at("swap_out_bytes").dump());
  RecordProperty("compress_swap_out_bytes", cswap.activations.at("compress_swap_out_bytes").dump());
}

}  // namespace
}  // namespace mart
