// The job config a C API call names: a YAML file, YAML text or the built-in default job, then
// `key=value` overrides (mart_session_params, mart_plan_params, mart_profile_params share them).
#pragma once
#include <cstdint>

#include "config/job_config.h"

namespace mart::capi {

struct ConfigArgs {
  const char* config_path = nullptr;  // NULL or "": not given
  const char* config_yaml = nullptr;  // NULL or "": not given
  const char* const* overrides = nullptr;
  int32_t n_overrides = 0;
};

// Loads and validates the config. Throws StatusError: MART_ERR_INVALID_ARGUMENT for both sources
// set, a negative count, NULL overrides or a NULL entry (naming its index); MART_ERR_IO for a
// config file that does not exist; MART_ERR_CONFIG for bad YAML, an unknown key or a bad value.
JobConfig load_config(const ConfigArgs& a);

}  // namespace mart::capi
