// mart_plan and mart_profile: `mart plan --json` and `mart profile` as functions returning text.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "capi/capi_guard.h"
#include "capi/config_args.h"
#include "planner/profile.h"
#include "profiler/measured_profile.h"
#include "profiler/plan_job.h"
#include "runtime/backend.h"

using mart::capi::fail;
using mart::capi::guarded;
using mart::capi::require_arg;

extern "C" {

mart_plan_params mart_plan_default_params(void) {
  mart_plan_params p{};
  return p;
}

mart_status mart_plan(mart_plan_params params, char** out_json, int32_t* out_fits) {
  // Errors of the planning itself (an unknown hardware name, a bad hardware or profile file) are
  // config errors: the job description cannot be planned as given.
  return guarded("mart_plan", MART_ERR_CONFIG, [&] {
    require_arg(out_json, "out_json");
    if (params.allow_compress != 0 && params.allow_compress != 1)
      fail(MART_ERR_INVALID_ARGUMENT,
           "`allow_compress` is " + std::to_string(params.allow_compress) + "; it must be 0 or 1");
    const mart::JobConfig cfg = mart::capi::load_config(
        {params.config_path, params.config_yaml, params.overrides, params.n_overrides});
    mart::PlanArgs pa;
    pa.hardware = params.hardware ? params.hardware : "";
    pa.gpu_mem = params.gpu_mem;
    pa.host_mem = params.host_mem;
    pa.allow_compress = params.allow_compress != 0;
    const mart::JobPlan jp = mart::plan_job(cfg, pa);
    char* text = mart::capi::dup_string(mart::job_plan_json(jp).dump(2));  // as `mart plan --json`
    *out_json = text;
    if (out_fits) *out_fits = jp.result.fits ? 1 : 0;
  });
}

mart_profile_params mart_profile_default_params(void) {
  mart_profile_params p{};
  p.reps = 3;
  return p;
}

mart_status mart_profile(mart_profile_params params, char** out_json) {
  // Measuring needs the device the config names: a backend that is not available is a config
  // error; a measurement that does not fit the device is reported by the guard as out of memory.
  return guarded("mart_profile", MART_ERR_CONFIG, [&] {
    require_arg(out_json, "out_json");
    if (params.reps < 1)
      fail(MART_ERR_INVALID_ARGUMENT,
           "`reps` is " + std::to_string(params.reps) + "; it must be at least 1 (default 3)");
    const mart::JobConfig cfg = mart::capi::load_config(
        {params.config_path, params.config_yaml, params.overrides, params.n_overrides});
    auto dev = mart::make_device(cfg.backend);
    auto ops = mart::make_ops(*dev);
    mart::MeasureOptions mo;
    mo.reps = params.reps;
    const mart::Profile p = mart::measured_profile(cfg, *dev, *ops, mo);
    // The bytes save_profile writes to the file `mart profile -o` names.
    *out_json = mart::capi::dup_string(mart::to_json(p).dump(2) + "\n");
  });
}

}  // extern "C"
