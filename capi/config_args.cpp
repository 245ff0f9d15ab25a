#include "capi/config_args.h"

#include <filesystem>
#include <string>
#include <vector>

#include "capi/capi_guard.h"
#include "common/error.h"
#include "config/config_loader.h"

namespace mart::capi {
namespace {

bool given(const char* s) {
  return s != nullptr && *s != '\0';
}

std::vector<std::string> override_list(const ConfigArgs& a) {
  if (a.n_overrides < 0)
    fail(MART_ERR_INVALID_ARGUMENT, "`n_overrides` is " + std::to_string(a.n_overrides) +
                                        "; it must be 0 or the number of entries in `overrides`");
  if (a.n_overrides > 0 && a.overrides == nullptr)
    fail(MART_ERR_INVALID_ARGUMENT, "`overrides` is NULL but `n_overrides` is " +
                                        std::to_string(a.n_overrides) +
                                        " (pass the array, or n_overrides = 0)");
  std::vector<std::string> out;
  for (int32_t i = 0; i < a.n_overrides; ++i) {
    if (a.overrides[i] == nullptr)
      fail(MART_ERR_INVALID_ARGUMENT, "`overrides[" + std::to_string(i) + "]` is NULL (each of the " +
                                          std::to_string(a.n_overrides) +
                                          " entries must be a \"key=value\" string)");
    out.emplace_back(a.overrides[i]);
  }
  return out;
}

}  // namespace

JobConfig load_config(const ConfigArgs& a) {
  if (given(a.config_path) && given(a.config_yaml))
    fail(MART_ERR_INVALID_ARGUMENT,
         "`config_path` and `config_yaml` are both set; give one of them (or neither for the "
         "built-in default job)");
  const std::vector<std::string> sets = override_list(a);
  if (given(a.config_path) && !std::filesystem::exists(a.config_path))
    fail(MART_ERR_IO, std::string("config file '") + a.config_path +
                          "' does not exist (config_path is read relative to the working "
                          "directory)");
  try {
    if (given(a.config_yaml)) return job_config_from_yaml_string(a.config_yaml, "config_yaml", sets);
    return load_job_config(given(a.config_path) ? a.config_path : "", sets);
  } catch (const mart::Error& e) {
    fail(MART_ERR_CONFIG, e.what());
  }
}

}  // namespace mart::capi
