// A JobConfig as JSON (saved inside checkpoints and run summaries, read back on resume) and as
// YAML (`mart` prints the effective config; the text loads back with config_loader.h).
//
// Both writers emit every field, so what they write reads back to an equal config:
//   job_config_from_json(to_json(c)) == c,  job_config_from_yaml_string(to_yaml(c), ...) == c.
// Floats are written in their shortest exact form (0.001, not 0.0010000000474974513); sizes are
// integer bytes in JSON and unit strings where exact ("64MiB") or auto in YAML.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "config/job_config.h"

namespace mart {

nlohmann::json to_json(const JobConfig& c);

// Reads what to_json writes. Keys missing from `j` keep their defaults (older checkpoints lack
// newer fields); unknown keys and wrong types are errors, as in YAML, naming `origin` (e.g. the
// checkpoint's file) and the key. Every value is range-checked against the limit table
// (config_limits.h) and the name's rules, so an edited checkpoint cannot ask for n_layer 1e9;
// the semantic rules of validate() are not applied (the caller validates the final config).
JobConfig job_config_from_json(const nlohmann::json& j,
                               const std::string& origin = "job config JSON");

std::string to_yaml(const JobConfig& c);

}  // namespace mart
