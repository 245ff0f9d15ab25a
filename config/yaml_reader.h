// Applies a parsed YAML document onto a JobConfig with strict checking: every key must be in the
// schema (config_fields.h), every value must have its field's type. Errors name the key's full
// path, the source and line, and a fix. Shared by the file loader, `--set` overrides and the JSON
// reader (which converts JSON to YAML nodes first), so all three accept and reject the same things.
// Internal to mart_config.
#pragma once
#include <string>

#include <yaml-cpp/yaml.h>

#include "config/job_config.h"

namespace mart::config_detail {

// Where a document came from, for error messages.
struct Source {
  enum Kind { File, Override, Json };
  Kind kind = File;
  std::string text;  // File: the path or origin name; Override: the whole "section.key=value"

  // " (config.yaml:12)", " (--set train.lr=fast)", " (job config JSON)".
  std::string where(const YAML::Mark& mark) const;
};

// Applies `root` (a mapping of top-level keys, or null for "nothing to change") onto `c`. A
// `model` key holding a preset name, or a mapping with a `preset` key, first replaces the whole
// model with that preset. Throws mart::Error on the first problem.
void apply_yaml(JobConfig& c, const YAML::Node& root, const Source& src);

}  // namespace mart::config_detail
