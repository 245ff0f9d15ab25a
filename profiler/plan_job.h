// Planning a job: the profile (analytic from a hardware description, or a measured one), the
// search options from the job config and the command line, the search, and the reports — shared
// by `mart plan` and memory.mode: auto in `mart train`.
#pragma once
#include <functional>
#include <string>

#include "config/job_config.h"
#include "nlohmann/json_fwd.hpp"
#include "planner/search.h"

namespace mart {

struct PlanArgs {
  std::string hardware;         // NAME | FILE.yaml | PROFILE.json; "" = the backend's default
  uint64_t gpu_mem = 0;         // device capacity; 0 = memory.device_capacity, else the hardware's
  uint64_t host_mem = 0;        // 0 = the hardware's
  bool allow_compress = false;  // also allowed when the job itself uses compress
  // The search's progress callback (SearchOptions::progress), for a [plan] progress line.
  std::function<void(uint64_t done, uint64_t total)> progress;
};

struct JobPlan {
  Profile profile;
  std::string profile_note;  // where the profile came from
  SearchOptions options;
  SearchResult result;
};

// The search options for a job: global batch = micro_batch * grad_accum, clipping, compression.
SearchOptions job_search_options(const JobConfig& cfg, const Profile& p, uint64_t device_capacity,
                                 uint64_t host_memory, bool allow_compress);
JobPlan plan_job(const JobConfig& cfg, const PlanArgs& args);
JobPlan plan_with_profile(const JobConfig& cfg, Profile profile, const PlanArgs& args);

// Sets memory.mode manual and every knob the plan fixes (n_persist, n_buffer, chunk_size, block
// modes by count, micro_batch, grad_accum).
void apply_plan(JobConfig& cfg, const Profile& p, const PlanCandidate& c);

nlohmann::json plan_choice_json(const Profile& p, const PlanChoice& c);
nlohmann::json prediction_json(const PlanCandidate& c);
// `mart plan --json`: fits, reason, binding_resource, plan, predicted, alternatives, search.
nlohmann::json job_plan_json(const JobPlan& jp);
std::string job_plan_text(const JobPlan& jp, bool explain);

}  // namespace mart
