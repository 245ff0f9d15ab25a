#include "config/config_loader.h"

#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include "common/error.h"
#include "common/regular_file.h"
#include "config/config_fields.h"
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

void state_all_model_keys(std::set<std::string>& stated) {
  JobConfig scratch;
  for (const config_detail::Section& s : config_detail::schema(scratch))
    if (s.name == "model")
      for (const std::string& k : config_detail::field_names(s)) stated.insert(k);
}

// The model keys a YAML document states (apply_yaml has already checked them).
void add_stated_keys(const YAML::Node& root, std::set<std::string>& stated) {
  if (!root.IsMap() || !root["model"]) return;
  const YAML::Node m = root["model"];
  if (m.IsScalar()) return state_all_model_keys(stated);  // a preset name
  if (!m.IsMap()) return;
  for (const auto& kv : m) {
    const std::string k = kv.first.as<std::string>();
    if (k == "preset") state_all_model_keys(stated);
    stated.insert(k);
  }
}

void add_stated_override(const std::string& text, std::set<std::string>& stated) {
  const std::string key = text.substr(0, text.find('='));
  if (key == "model" || key == "model.preset") return state_all_model_keys(stated);
  if (key.rfind("model.", 0) == 0) stated.insert(key.substr(6));
}

// What a family implies when the config does not say: GPT-2 always ties its head to wte and has
// as many kv heads as query heads.
void apply_family_defaults(ModelConfig& m, const std::set<std::string>& stated) {
  const ModelFamilyTraits& fam = family_traits(m.family);
  if (fam.always_tied && !stated.count("tied_embeddings")) m.tied_embeddings = true;
  if (!fam.grouped_query_attention && !stated.count("n_kv_head")) m.n_kv_head = m.n_head;
}

LoadedJobConfig load_from_text(const std::string* text, const std::string& origin,
                               const std::vector<std::string>& overrides) {
  LoadedJobConfig l;
  if (text) {
    const YAML::Node root = parse_yaml(*text, origin);
    config_detail::apply_yaml(l.config, root, Source{Source::File, origin});
    add_stated_keys(root, l.stated_model_keys);
  }
  apply_overrides(l.config, overrides);
  for (const std::string& o : overrides) add_stated_override(o, l.stated_model_keys);
  apply_family_defaults(l.config.model, l.stated_model_keys);
  l.origin = overrides.empty() ? origin : origin + " with --set overrides";
  return l;
}

}  // namespace

void apply_overrides(JobConfig& c, const std::vector<std::string>& overrides) {
  for (const std::string& o : overrides) apply_override(c, o);
}

JobConfig job_config_from_yaml_string(const std::string& text, const std::string& origin,
                                      const std::vector<std::string>& overrides) {
  LoadedJobConfig l = load_from_text(&text, origin, overrides);
  validate(l.config, l.origin);
  return std::move(l.config);
}

LoadedJobConfig load_job_config_unvalidated(const std::string& yaml_path,
                                            const std::vector<std::string>& overrides) {
  if (yaml_path.empty()) return load_from_text(nullptr, "built-in defaults", overrides);
  if (::access(yaml_path.c_str(), F_OK) != 0)
    throw Error(str("cannot read job config '", yaml_path,
                    "': no such file (configs/jobs/ holds the shipped ones)"));
  // A FIFO, device or directory is refused before it is read (it could block forever).
  const std::string text = read_regular_file(yaml_path, "job config", kMaxConfigBytes);
  return load_from_text(&text, yaml_path, overrides);
}

JobConfig load_job_config(const std::string& yaml_path, const std::vector<std::string>& overrides) {
  LoadedJobConfig l = load_job_config_unvalidated(yaml_path, overrides);
  validate(l.config, l.origin);
  return std::move(l.config);
}

}  // namespace mart
