// mart_session_create / destroy / get_info / config_json / plan_json: building a Session as
// `mart train` does (the same config loading, auto planner and weight init), and reporting it.
#include <memory>
#include <nlohmann/json.hpp>

#include "capi/config_args.h"
#include "capi/session_handle.h"
#include "config/config_serialize.h"
#include "memory/device_arena.h"
#include "profiler/auto_plan.h"

using mart::capi::fail;
using mart::capi::guarded;
using mart::capi::require_arg;
using mart::capi::with_session;

namespace {

// What `mart train` writes as summary.json's "plan", plus the measured peak and, for memory.mode
// auto, the planner's object.
nlohmann::json plan_object(mart::Session& s) {
  nlohmann::json j = s.plan_json();
  j["peak_device_bytes"] = s.arena().stats().peak_in_use;
  if (!s.planner().is_null()) j["planner"] = s.planner();
  return j;
}

}  // namespace

extern "C" {

mart_session_params mart_session_default_params(void) {
  mart_session_params p{};
  p.init_weights = 1;
  return p;
}

mart_status mart_session_create(mart_session_params params, mart_session** out) {
  // Errors of the Session's own construction after the config validated (backend unavailable,
  // n_buffer too small for the layout) are config errors; a job that does not fit the device is
  // a CapacityError, which the guard reports as MART_ERR_OUT_OF_MEMORY.
  return guarded("mart_session_create", MART_ERR_CONFIG, [&] {
    require_arg(out, "out");
    if (params.init_weights != 0 && params.init_weights != 1)
      fail(MART_ERR_INVALID_ARGUMENT, "`init_weights` is " + std::to_string(params.init_weights) +
                                          "; it must be 1 (initialise from train.seed) or 0");
    mart::JobConfig cfg = mart::capi::load_config(
        {params.config_path, params.config_yaml, params.overrides, params.n_overrides});
    mart::SessionOptions so;
    so.auto_planner = &mart::auto_plan_for_training;  // memory.mode auto, as `mart train`
    auto h = std::make_unique<mart_session>();
    h->session = std::make_unique<mart::Session>(std::move(cfg), std::move(so));
    const mart::ModelSpec& spec = h->session->spec();
    for (size_t i = 0; i < spec.params.size(); ++i)
      h->index_of.emplace(spec.params[i].name, static_cast<int>(i));
    if (params.init_weights) h->session->init_weights(h->session->config().train.seed);
    mart::capi::session_registry().add(h.get());
    *out = h.release();
  });
}

mart_status mart_session_destroy(mart_session* session) {
  if (session == nullptr) return MART_OK;
  return guarded("mart_session_destroy", MART_ERR_INTERNAL, [&] {
    // Throws (and frees nothing) unless live and idle; afterwards no call can start on it.
    mart::capi::session_registry().acquire_and_remove(session);
    delete session;
  });
}

mart_status mart_session_get_info(mart_session* session, mart_session_info* out) {
  return with_session("mart_session_get_info", MART_ERR_INTERNAL, session, [&](mart_session& h) {
    require_arg(out, "out");
    mart::Session& s = *h.session;
    const mart::JobConfig& c = s.config();
    mart_session_info info{};
    info.n_params = static_cast<int64_t>(s.spec().n_params);
    info.n_tensors = static_cast<int32_t>(s.spec().params.size());
    info.micro_batch = c.train.micro_batch;
    info.seq_len = c.train.seq_len;
    info.grad_accum = c.train.grad_accum;
    info.vocab_size = c.model.vocab_size;
    info.n_layer = c.model.n_layer;
    info.steps_done = h.steps_done;
    info.device_budget_bytes = s.device_budget_bytes();
    info.peak_device_bytes = s.arena().stats().peak_in_use;
    info.pinned_host_bytes = s.pinned_host_bytes();
    *out = info;
  });
}

mart_status mart_session_config_json(mart_session* session, char** out_json) {
  return with_session("mart_session_config_json", MART_ERR_INTERNAL, session, [&](mart_session& h) {
    require_arg(out_json, "out_json");
    *out_json = mart::capi::dup_string(mart::to_json(h.session->config()).dump(2));
  });
}

mart_status mart_session_plan_json(mart_session* session, char** out_json) {
  return with_session("mart_session_plan_json", MART_ERR_INTERNAL, session, [&](mart_session& h) {
    require_arg(out_json, "out_json");
    *out_json = mart::capi::dup_string(plan_object(*h.session).dump(2));
  });
}

}  // extern "C"
