// The job config's schema as data: one row per field, naming its YAML/JSON key and value kind and
// pointing at the member. The YAML loader, the JSON/YAML writers and the JSON reader all walk this
// one table, so a field added to job_config.h needs one row here and is then loaded, validated for
// type, saved and round-tripped everywhere. Internal to mart_config.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "config/job_config.h"

namespace mart::config_detail {

enum class FieldKind {
  Int,         // int
  Float,       // float
  Bool,        // bool
  String,      // std::string
  Seed,        // uint64_t, plain non-negative integer
  Size,        // uint64_t bytes: integer, unit string ("64MiB") or "auto" (= 0)
  StringList,  // std::vector<std::string>
  Family,      // ModelFamily: its name (config/model_family.h)
};

struct Field {
  std::string_view name;
  FieldKind kind;
  void* ptr;  // points into the JobConfig the table was built for
};

struct Section {
  std::string_view name;  // "" for the top-level scalars (name, backend)
  std::vector<Field> fields;
};

// The table bound to `c`: sections in schema order (top-level scalars first). Reading through a
// table built from a const config is fine; writing through it is the caller's promise that `c`
// was not const.
std::vector<Section> schema(JobConfig& c);
inline std::vector<Section> schema(const JobConfig& c) {
  return schema(const_cast<JobConfig&>(c));
}

// Names of a section's keys, for "valid keys are ..." hints.
std::vector<std::string> field_names(const Section& s);

// Shortest text that reads back to exactly `v` (std::to_chars), e.g. "0.001", "1e-05".
std::string float_text(float v);

}  // namespace mart::config_detail
