#include "config/config_serialize.h"

#include <cstdio>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "common/error.h"
#include "config/config_fields.h"
#include "config/config_limits.h"
#include "config/yaml_reader.h"

namespace mart {

using config_detail::Field;
using config_detail::FieldKind;
using config_detail::float_text;
using config_detail::schema;
using config_detail::Section;

namespace {

nlohmann::json field_json(const Field& f) {
  switch (f.kind) {
    case FieldKind::Int:
      return *static_cast<const int*>(f.ptr);
    case FieldKind::Float:
      // Via the float's shortest text: the double is then the "nice" decimal, which reads back
      // to the same float.
      return std::stod(float_text(*static_cast<const float*>(f.ptr)));
    case FieldKind::Bool:
      return *static_cast<const bool*>(f.ptr);
    case FieldKind::String:
      return *static_cast<const std::string*>(f.ptr);
    case FieldKind::Seed:
    case FieldKind::Size:
      return *static_cast<const uint64_t*>(f.ptr);
    case FieldKind::StringList:
      return *static_cast<const std::vector<std::string>*>(f.ptr);
    case FieldKind::Family:
      return mart::family_name(*static_cast<const ModelFamily*>(f.ptr));
  }
  return nullptr;
}

// JSON -> YAML node, so JSON goes through the same strict reader as YAML. Numbers become their
// JSON text; the reader parses that text exactly as it would a YAML scalar.
YAML::Node to_yaml_node(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::object: {
      YAML::Node n(YAML::NodeType::Map);
      for (auto it = j.begin(); it != j.end(); ++it) n[it.key()] = to_yaml_node(it.value());
      return n;
    }
    case nlohmann::json::value_t::array: {
      YAML::Node n(YAML::NodeType::Sequence);
      for (const auto& e : j) n.push_back(to_yaml_node(e));
      return n;
    }
    case nlohmann::json::value_t::string:
      return YAML::Node(j.get<std::string>());
    case nlohmann::json::value_t::null:
      return YAML::Node(YAML::NodeType::Null);
    default:  // numbers, booleans
      return YAML::Node(j.dump());
  }
}

// A double-quoted YAML string: always quoted, so "auto", "true" or "123" stay strings.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    unsigned char u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string size_text(uint64_t bytes) {
  if (bytes == 0) return "auto";
  const char* units[] = {"TiB", "GiB", "MiB", "KiB"};
  for (int i = 0; i < 4; ++i) {
    uint64_t unit = uint64_t{1} << (10 * (4 - i));
    if (bytes % unit == 0) return std::to_string(bytes / unit) + units[i];
  }
  return std::to_string(bytes);
}

std::string field_yaml(const Field& f) {
  switch (f.kind) {
    case FieldKind::Int:
      return std::to_string(*static_cast<const int*>(f.ptr));
    case FieldKind::Float:
      return float_text(*static_cast<const float*>(f.ptr));
    case FieldKind::Bool:
      return *static_cast<const bool*>(f.ptr) ? "true" : "false";
    case FieldKind::String:
      return quoted(*static_cast<const std::string*>(f.ptr));
    case FieldKind::Seed:
      return std::to_string(*static_cast<const uint64_t*>(f.ptr));
    case FieldKind::Size:
      return size_text(*static_cast<const uint64_t*>(f.ptr));
    case FieldKind::StringList: {
      std::string out = "[";
      for (const std::string& s : *static_cast<const std::vector<std::string>*>(f.ptr))
        out += (out.size() > 1 ? ", " : "") + quoted(s);
      return out + "]";
    }
    case FieldKind::Family:
      return mart::family_name(*static_cast<const ModelFamily*>(f.ptr));
  }
  return "";
}

}  // namespace

nlohmann::json to_json(const JobConfig& c) {
  nlohmann::json j = nlohmann::json::object();
  for (const Section& s : schema(c)) {
    nlohmann::json& dst = s.name.empty() ? j : (j[std::string(s.name)] = nlohmann::json::object());
    for (const Field& f : s.fields) dst[std::string(f.name)] = field_json(f);
  }
  return j;
}

JobConfig job_config_from_json(const nlohmann::json& j, const std::string& origin) {
  if (!j.is_object())
    throw Error(
        str(origin, ": expected a job config (an object of sections), got ", j.type_name()));
  JobConfig c;
  config_detail::apply_yaml(c, to_yaml_node(j),
                            config_detail::Source{config_detail::Source::Json, origin});
  check_limits(c, origin);
  return c;
}

std::string to_yaml(const JobConfig& c) {
  std::ostringstream os;
  for (const Section& s : schema(c)) {
    const std::string indent = s.name.empty() ? "" : "  ";
    if (!s.name.empty()) os << s.name << ":\n";
    for (const Field& f : s.fields) os << indent << f.name << ": " << field_yaml(f) << "\n";
  }
  return os.str();
}

}  // namespace mart
