// The measured profile on the CPU backend: every figure measured and positive, exact memory equal
// to the analytic profile's (both come from the executor's layout), the JSON round-trips, and a
// plan made from it answers.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "config/config_loader.h"
#include "planner/hardware.h"
#include "profiler/analytic_profile.h"
#include "profiler/measured_profile.h"
#include "profiler/plan_job.h"
#include "runtime/backend.h"

namespace mart {
namespace {

TEST(MeasuredProfile, CpuBackend) {
  JobConfig cfg;  // the default job: a 4-block Llama
  cfg.train.micro_batch = 2;
  cfg.train.grad_accum = 2;
  cfg.train.seq_len = 64;
  auto dev = make_device("cpu");
  auto ops = make_ops(*dev);
  MeasureOptions mo;
  mo.reps = 1;
  const Profile p = measured_profile(cfg, *dev, *ops, mo);
  EXPECT_EQ(p.source, "measured");
  EXPECT_FALSE(p.hardware.estimated);
  EXPECT_EQ(p.hardware.backend, "cpu");
  EXPECT_TRUE(p.hardware.compute_on_host);
  for (double r : {p.hardware.h2d_bps, p.hardware.d2h_bps, p.hardware.matmul_flops,
                   p.hardware.cpu_adam_elems_per_s, p.hardware.device_adam_elems_per_s,
                   p.hardware.mem_bw_bps, p.hardware.codec_bps})
    EXPECT_GT(r, 0);
  const Profile a = analytic_profile(cfg, builtin_hardware("cpu"));
  ASSERT_EQ(p.micro_batches.size(), a.micro_batches.size());  // 1, 2, 4
  for (size_t i = 0; i < p.micro_batches.size(); ++i) {
    const auto &m = p.micro_batches[i], &n = a.micro_batches[i];
    EXPECT_EQ(m.micro_batch, n.micro_batch);
    EXPECT_EQ(m.io_bytes, n.io_bytes);
    EXPECT_EQ(m.inputs_bytes, n.inputs_bytes);
    EXPECT_EQ(m.head_bytes, n.head_bytes);
    EXPECT_EQ(m.scratch_bytes, n.scratch_bytes);
    EXPECT_EQ(m.body_bytes, n.body_bytes);
    EXPECT_GT(m.block_forward_s, 0);
    EXPECT_GT(m.block_backward_s, 0);
    EXPECT_GT(m.block_recompute_s, 0);
    EXPECT_GT(m.head_s, 0);
    // The activation manager's accounting: keep owns a body; checkpoint shares one scratch.
    ASSERT_TRUE(m.act_mode_bytes.count("keep"));
    EXPECT_GE(m.act_mode_bytes.at("keep").device, m.body_bytes);
    // compress_swap runs wherever swap and compress do: three blocks, the first one copied to the
    // host at the budget, the other two in their staging slots.
    ASSERT_TRUE(m.act_mode_bytes.count("compress_swap"));
    const ActBody body{m.body_act_values, 4, m.body_stat_bytes};
    EXPECT_EQ(m.act_mode_bytes.at("compress_swap").host,
              compress_swap_host_bytes(body, CompressBudget{}) / 3);
    EXPECT_LT(m.act_mode_bytes.at("compress_swap").host, m.act_mode_bytes.at("swap").host);
  }
  for (const char* mode : {"keep", "checkpoint", "swap", "compress", "compress_swap"})
    EXPECT_TRUE(p.supports(mode)) << mode;
  EXPECT_EQ(to_json(profile_from_json(to_json(p))), to_json(p));
  PlanArgs args;
  args.gpu_mem = 64ull << 20;
  const JobPlan jp = plan_with_profile(cfg, p, args);
  EXPECT_TRUE(jp.result.fits) << jp.result.message;
}

}  // namespace
}  // namespace mart
