#include "config/config_loader.h"

#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include "common/error.h"
#include "common/regular_file.h"
#include "config/yaml_reader.h"

namespace mart {

using config_detail::Source;

namespace {

// A job config is a page of YAML; 16 MiB is a wrong path (a dataset), not a config.
constexpr size_t kMaxConfigBytes = size_t{16} << 20;

YAML::Node parse_yaml(const std::string& text, const std::string& origin) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(
        str(origin, ":", e.mark.line + 1, ":", e.mark.column + 1, ": YAML syntax error: ", e.msg));
  }
}

void apply_override(JobConfig& c, const std::string& text) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw Error(str("--set ", text, ": expected section.key=value, e.g. --set train.lr=3e-4"));
  std::string key = text.substr(0, eq);
  std::string value_text = text.substr(eq + 1);
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    size_t dot = key.find('.', start);
    parts.push_back(key.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  for (const std::string& p : parts)
    if (p.empty() || p.find_first_of(" \t") != std::string::npos)
      throw Error(str("--set ", text, ": '", key, "' is not a key path; write section.key=value, ",
                      "e.g. --set train.lr=3e-4"));
  if (parts.size() > 2)
    throw Error(str("--set ", text, ": '", key, "' is nested too deeply; keys are section.key ",
                    "(e.g. train.lr)"));
  YAML::Node value;
  try {
    value = YAML::Load(value_text);
  } catch (const YAML::Exception& e) {
    throw Error(str("--set ", text, ": cannot parse the value '", value_text, "' as YAML: ", e.msg,
                    " (quote it, or write lists as [a, b])"));
  }
  YAML::Node root;
  if (parts.size() == 1) {
    root[parts[0]] = value;
  } else {
    YAML::Node section;
    section[parts[1]] = value;
    root[parts[0]] = section;
  }
  // A section named with no key (--set train=5) reaches apply_yaml as a scalar section and gets
  // "expected a mapping of train keys"; everything else is checked as if it were in the file.
  config_detail::apply_yaml(c, root, Source{Source::Override, text});
}

}  // namespace

void apply_overrides(JobConfig& c, const std::vector<std::string>& overrides) {
  for (const std::string& o : overrides) apply_override(c, o);
}

JobConfig job_config_from_yaml_string(const std::string& text, const std::string& origin,
                                      const std::vector<std::string>& overrides) {
  JobConfig c;
  config_detail::apply_yaml(c, parse_yaml(text, origin), Source{Source::File, origin});
  apply_overrides(c, overrides);
  validate(c, overrides.empty() ? origin : origin + " with --set overrides");
  return c;
}

JobConfig load_job_config(const std::string& yaml_path, const std::vector<std::string>& overrides) {
  if (yaml_path.empty()) {
    JobConfig c;
    apply_overrides(c, overrides);
    validate(c, overrides.empty() ? "built-in defaults" : "built-in defaults with --set overrides");
    return c;
  }
  if (::access(yaml_path.c_str(), F_OK) != 0)
    throw Error(str("cannot read job config '", yaml_path,
                    "': no such file (configs/jobs/ holds the shipped ones)"));
  // A FIFO, device or directory is refused before it is read (it could block forever).
  const std::string text = read_regular_file(yaml_path, "job config", kMaxConfigBytes);
  return job_config_from_yaml_string(text, yaml_path, overrides);
}

}  // namespace mart
