#include "profiler/auto_plan.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/error_kinds.h"
#include "common/progress_line.h"
#include "common/units.h"
#include "device/device.h"
#include "profiler/measured_profile.h"
#include "profiler/plan_job.h"

namespace mart {

namespace {

nlohmann::json auto_plan(JobConfig& cfg, Device& dev, Ops& ops, bool progress) {
  MeasureOptions mo;
  mo.reps = 5;  // medians of five: steadier on a busy machine, still seconds
  ProgressPrinter measuring("profile", 0, ProgressFormat::items("measurements"),
                            ProgressOptions::when(progress));
  mo.progress = [&measuring](int done, int total, const std::string& what) {
    measuring.set_total(static_cast<uint64_t>(total));
    measuring.update(static_cast<uint64_t>(done), what);
  };
  Profile p = measured_profile(cfg, dev, ops, mo);
  measuring.finish();
  // The capacity the trainer will enforce: memory.device_capacity, else what the device has free.
  const uint64_t capacity =
      cfg.memory.device_capacity ? cfg.memory.device_capacity : dev.free_memory();
  PlanArgs a;
  a.gpu_mem = capacity;
  ProgressPrinter searching("plan", 0, ProgressFormat::items("candidates"),
                            ProgressOptions::when(progress));
  a.progress = [&searching](uint64_t done, uint64_t total) {
    searching.set_total(total);
    searching.update(done);
  };
  JobPlan jp = plan_with_profile(cfg, std::move(p), a);
  searching.finish();
  jp.profile_note = "measured on " + jp.profile.hardware.name;
  const SearchResult& r = jp.result;
  if (!r.fits) {
    std::string s = "memory.mode auto: " + r.message;
    for (auto& x : r.suggestions) s += " Would fit with: " + x + ".";
    if (!cfg.train.micro_batch_auto)
      s += str(" The plan keeps train.micro_batch = ", cfg.train.micro_batch,
               "; set train.micro_batch_auto: true to let it split the batch into smaller "
               "micro-batches with more accumulation.");
    MART_FAIL_CAPACITY(s);
  }
  apply_plan(cfg, jp.profile, r.best);
  const auto& k = r.best.plan;
  std::string blocks;  // "1 swap / 0 compress_swap / 2 checkpoint / 0 compress", layout order
  for (int rank = 0; rank < act_traits(ActMode::Keep).layout_rank; ++rank)
    for (const ActModeTraits& t : kActModeTraits)
      if (t.layout_rank == rank && t.count_key)
        blocks += (blocks.empty() ? "" : " / ") + std::to_string(k.blocks[t.mode]) + " " + t.name;
  std::fprintf(stderr,
               "mart: memory.mode auto: %d of %d chunks persistent, %d buffers, "
               "micro-batch %d x %d, blocks %s; predicted peak %s, %.3f s per step (%s-bound)\n",
               k.n_persist,
               static_cast<int>(model_chunks(jp.profile.model, k.chunk_elems).n_chunks()),
               k.n_buffer, k.micro_batch, k.grad_accum, blocks.c_str(),
               format_bytes(r.best.memory.device).c_str(), r.best.time.iteration_s,
               r.best.time.binding.c_str());
  nlohmann::json j = job_plan_json(jp);
  j["profile_json"] = to_json(jp.profile);
  return j;
}

}  // namespace

nlohmann::json auto_plan_for_training(JobConfig& cfg, Device& dev, Ops& ops) {
  return auto_plan(cfg, dev, ops, /*progress=*/false);
}

AutoPlanner auto_planner_with_progress(bool progress) {
  return [progress](JobConfig& cfg, Device& dev, Ops& ops) {
    return auto_plan(cfg, dev, ops, progress);
  };
}

}  // namespace mart
