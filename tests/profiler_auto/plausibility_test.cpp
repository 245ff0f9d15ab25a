// Plausibility of `mart plan`'s predictions on the shipped jobs and the built-in presets, against
// published measured MFU (llm.c's convention: (6N + 6LCT) tokens/s / dense peak). Sources:
//  [FA2]    FlashAttention-2 (Dao, 2023, arXiv 2307.08691): GPT-style training on A100 at up to
//           72% MFU, the highest dense bf16 training figure we found. No prediction may exceed it.
//  [LF]     mosaicml/llm-foundry, scripts/train/benchmarking/README.md (MPT, bf16, FSDP, 8+ GPUs):
//           A100-80GB 42.6-64.2% MFU for 125M-13B at seq 512-8192; H100-80GB 34.8-46.4% for
//           760M-13B at seq 512-8192; the same model and sequence runs 2.2-2.3x the A100's tokens/s
//           per GPU on an H100 (1B @1024: 48910 vs 22112; 7B @2048: 10643 vs 4641).
//  [llm.c]  GPT-2 124M ~56% MFU on an A100, GPT-2 1.5B ~46% on an H100 (docs/DESIGN.md §6).
//  [nanoGPT] karpathy/nanoGPT#182: GPT-2 124M on one RTX 4090 at "29% MFU" against the A100's
//           312 TFLOP/s (nanoGPT's fixed denominator, nanoGPT#464) = 55% of the 4090's 165.2.
// A100 MFU above H100 MFU for the same job is what [LF] and [llm.c] show (the H100's peak grew
// ~3.2x over the A100's, its memory bandwidth ~1.6x), so the test asks H100 tokens/s to be
// 2.0x-3.17x the A100's (3.17 = the ratio of dense peaks), not H100 MFU >= A100 MFU.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "config/config_loader.h"
#include "planner/hardware.h"
#include "profiler/plan_job.h"

namespace mart {
namespace {

constexpr double kMaxPublishedMfu = 0.72;  // [FA2]

JobConfig job(const std::string& name) {
  return load_job_config(std::string(MART_SOURCE_DIR) + "/configs/jobs/" + name + ".yaml");
}

TimePrediction predict(const JobConfig& cfg, const std::string& hardware) {
  PlanArgs a;
  a.hardware = hardware;
  const JobPlan jp = plan_job(cfg, a);
  EXPECT_TRUE(jp.result.fits) << cfg.name << " on " << hardware << ": " << jp.result.message;
  return jp.result.best.time;
}

// No plan can beat physics or the best published run: every MFU FLOP is a matmul or attention
// FLOP, and neither runs faster than the preset's matmul rate.
std::string implausible(const TimePrediction& t, const HardwareProfile& hw) {
  if (t.mfu > kMaxPublishedMfu) return "MFU above the best published run (72%)";
  if (t.mfu > hw.matmul_flops / hw.peak_flops) return "MFU above the preset's matmul rate";
  return "";
}

// The compute-resident jobs (every state on the device): MFU in the published range per device.
TEST(Plausibility, ResidentJobsInThePublishedMfuRange) {
  for (const char* name : {"gpt2-124m", "gpt2-350m", "gpt2-774m", "gpt2-1.5b", "llama-1b"}) {
    SCOPED_TRACE(name);
    const JobConfig cfg = job(name);
    const TimePrediction a100 = predict(cfg, "a100-80gb");
    const TimePrediction h100 = predict(cfg, "h100-sxm");
    const TimePrediction h200 = predict(cfg, "h200");
    EXPECT_EQ(implausible(a100, builtin_hardware("a100-80gb")), "");
    EXPECT_EQ(implausible(h100, builtin_hardware("h100-sxm")), "");
    EXPECT_EQ(implausible(h200, builtin_hardware("h200")), "");
    EXPECT_GE(a100.mfu, 0.42);  // [LF] A100 range, [llm.c] 124M ~56%
    EXPECT_LE(a100.mfu, 0.65);
    EXPECT_GE(h100.mfu, 0.34);  // [LF] H100 range, [llm.c] 1.5B ~46%
    EXPECT_LE(h100.mfu, 0.50);
    // H200: the H100's compute with 1.43x the bandwidth: at least the H100's MFU, at most the
    // A100 range's top (no published H200 training MFU found).
    EXPECT_GE(h200.mfu, h100.mfu);
    EXPECT_LE(h200.mfu, 0.65);
    const double speedup = h100.tokens_per_s / a100.tokens_per_s;
    EXPECT_GE(speedup, 2.0);  // [LF] 2.2-2.3x
    EXPECT_LE(speedup, 989.0 / 312.0);
  }
}

TEST(Plausibility, Gpt2SmallOnAnRtx4090MatchesNanoGpt) {
  const TimePrediction t = predict(job("gpt2-124m"), "rtx4090");
  EXPECT_EQ(implausible(t, builtin_hardware("rtx4090")), "");
  EXPECT_GE(t.mfu, 0.45);  // [nanoGPT] 55%
  EXPECT_LE(t.mfu, 0.65);
}

// The case: Llama-7B offloaded on one RTX 3090 with a batch large enough to hide the
// PCIe traffic (64 accumulation steps), and the shipped offloaded jobs on the big devices.
TEST(Plausibility, OffloadedJobsStayBelowTheMatmulRateAndThePublishedBest) {
  JobConfig big = job("llama-7b");
  big.train.grad_accum = 64;
  const TimePrediction t = predict(big, "rtx3090");
  EXPECT_EQ(implausible(t, builtin_hardware("rtx3090")), "");
  for (const char* name : {"llama-7b", "llama-13b"})
    for (const char* hw : {"a100-80gb", "h100-sxm"}) {
      SCOPED_TRACE(std::string(name) + " on " + hw);
      EXPECT_EQ(implausible(predict(job(name), hw), builtin_hardware(hw)), "");
    }
}

// Negative control: a preset that claims the whole peak for matmuls and attention and ten times
// the H100's memory bandwidth and AdamW rates predicts an implausible MFU, and the bound says so.
TEST(Plausibility, AnIdealisedPresetIsCaught) {
  HardwareProfile ideal = builtin_hardware("h100-sxm");
  ideal.name = "ideal";
  ideal.matmul_flops = ideal.attention_flops = ideal.peak_flops;
  ideal.mem_bw_bps *= 10;
  ideal.device_adam_elems_per_s *= 10;
  ideal.cpu_adam_elems_per_s *= 10;
  const std::string path = std::string(::testing::TempDir()) + "/ideal.yaml";
  std::ofstream(path) << hardware_to_yaml(ideal);
  const TimePrediction t = predict(job("gpt2-1.5b"), path);
  EXPECT_GT(t.mfu, kMaxPublishedMfu);
  EXPECT_NE(implausible(t, ideal), "");
}

}  // namespace
}  // namespace mart
