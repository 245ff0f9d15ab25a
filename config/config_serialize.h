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
// newer fields); unknown keys and wrong types are errors, as in YAML. Does not validate().
JobConfig job_config_from_json(const nlohmann::json& j);

std::string to_yaml(const JobConfig& c);

}  // namespace mart
