#include "config/yaml_reader.h"

#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <map>

#include "common/error.h"
#include "common/units.h"
#include "config/config_fields.h"
#include "config/model_presets.h"
#include "config/suggest.h"

namespace mart::config_detail {

std::string Source::where(const YAML::Mark& mark) const {
  switch (kind) {
    case Override:
      return " (--set " + text + ")";
    case Json:
      return " (" + text + ")";
    case File:
      break;
  }
  if (mark.is_null() || mark.line < 0) return " (" + text + ")";
  return str(" (", text, ":", mark.line + 1, ")");
}

namespace {

// A value and the key that introduced it: the key's mark stands in when the value is empty
// (`lr:` parses to a null node whose position is wherever the parser stopped, often a later line).
struct Item {
  std::string path;  // "train.lr"
  YAML::Node key;
  YAML::Node value;
};

YAML::Mark mark_of(const Item& it) {
  YAML::Mark m = it.value.Mark();
  return (it.value.IsNull() || m.is_null() || m.line < 0) ? it.key.Mark() : m;
}

// How a found value reads in "got ..." phrases.
std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar:
      return "'" + n.Scalar() + "'";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "nothing";
  }
}

[[noreturn]] void type_error(const Item& it, const Source& src, const std::string& expected) {
  throw Error(
      str(it.path, ": expected ", expected, ", got ", describe(it.value), src.where(mark_of(it))));
}

std::string trim(std::string s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

bool is_integer_text(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

int read_int(const Item& it, const Source& src) {
  if (!it.value.IsScalar() || !is_integer_text(trim(it.value.Scalar())))
    type_error(it, src, "an integer");
  errno = 0;
  long long v = std::strtoll(trim(it.value.Scalar()).c_str(), nullptr, 10);
  if (errno == ERANGE || v < INT_MIN || v > INT_MAX)
    throw Error(str(it.path, ": ", it.value.Scalar(), " is out of range for a 32-bit integer",
                    src.where(mark_of(it))));
  return static_cast<int>(v);
}

uint64_t read_seed(const Item& it, const Source& src) {
  std::string s = it.value.IsScalar() ? trim(it.value.Scalar()) : "";
  if (!is_integer_text(s) || s[0] == '-') type_error(it, src, "a non-negative integer");
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), nullptr, 10);
  if (errno == ERANGE)
    throw Error(str(it.path, ": ", s, " does not fit in 64 bits", src.where(mark_of(it))));
  return v;
}

float read_float(const Item& it, const Source& src) {
  if (!it.value.IsScalar()) type_error(it, src, "a number");
  std::string s = trim(it.value.Scalar());
  // strtof, not strtod + cast: parsing straight to float keeps shortest-form text exact.
  errno = 0;
  char* end = nullptr;
  float v = s.empty() ? 0.0f : std::strtof(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size()) type_error(it, src, "a number");
  if (errno == ERANGE && v != 0.0f)
    throw Error(
        str(it.path, ": ", s, " is out of range for a 32-bit float", src.where(mark_of(it))));
  if (!std::isfinite(v)) type_error(it, src, "a finite number");
  return v;
}

bool read_bool(const Item& it, const Source& src) {
  std::string s = it.value.IsScalar() ? lower(trim(it.value.Scalar())) : "";
  if (s == "true" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "no" || s == "off") return false;
  type_error(it, src, "true or false");
}

std::string read_string(const Item& it, const Source& src) {
  if (it.value.IsNull()) return "";  // `val_pattern:` or --set data.val_pattern= clears it
  if (!it.value.IsScalar()) type_error(it, src, "a string");
  return it.value.Scalar();
}

uint64_t read_size(const Item& it, const Source& src) {
  if (!it.value.IsScalar()) type_error(it, src, "a size (bytes, e.g. 4096, 64MiB, 1.5GB, or auto)");
  std::string s = trim(it.value.Scalar());
  if (lower(s) == "auto") return 0;
  try {
    return parse_size(s);
  } catch (const Error& e) {
    // parse_size says what is wrong with the text; drop its " [common/units.cpp:NN]" tag, which
    // points at our code rather than at the user's file.
    std::string why = e.what();
    if (size_t p = why.rfind(" ["); p != std::string::npos && why.back() == ']') why.resize(p);
    throw Error(str(it.path, ": ", why, src.where(mark_of(it))));
  }
}

std::vector<std::string> read_list(const Item& it, const Source& src) {
  std::vector<std::string> out;
  if (it.value.IsNull()) return out;
  if (it.value.IsScalar()) {  // "swap,keep,keep" is accepted too: handy on a command line
    std::string s = it.value.Scalar();
    size_t start = 0;
    while (true) {
      size_t comma = s.find(',', start);
      std::string part = trim(s.substr(start, comma - start));
      if (!part.empty()) out.push_back(part);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return out;
  }
  if (!it.value.IsSequence()) type_error(it, src, "a list of strings");
  for (size_t i = 0; i < it.value.size(); ++i) {
    Item elem{str(it.path, "[", i, "]"), it.key, it.value[i]};
    if (!elem.value.IsScalar()) type_error(elem, src, "a string");
    out.push_back(trim(elem.value.Scalar()));
  }
  return out;
}

ModelFamily read_family(const Item& it, const Source& src) {
  std::string s = it.value.IsScalar() ? lower(trim(it.value.Scalar())) : "";
  if (const ModelFamilyTraits* f = find_family(s)) return f->family;
  if (!it.value.IsScalar()) type_error(it, src, family_choices());
  std::vector<std::string> names;
  for (const ModelFamilyTraits& f : kModelFamilyTraits) names.push_back(f.name);
  throw Error(str(it.path, ": unknown model family ", describe(it.value), suggestion(s, names),
                  src.where(mark_of(it))));
}

void read_field(const Field& f, const Item& it, const Source& src) {
  switch (f.kind) {
    case FieldKind::Int:
      *static_cast<int*>(f.ptr) = read_int(it, src);
      break;
    case FieldKind::Float:
      *static_cast<float*>(f.ptr) = read_float(it, src);
      break;
    case FieldKind::Bool:
      *static_cast<bool*>(f.ptr) = read_bool(it, src);
      break;
    case FieldKind::String:
      *static_cast<std::string*>(f.ptr) = read_string(it, src);
      break;
    case FieldKind::Seed:
      *static_cast<uint64_t*>(f.ptr) = read_seed(it, src);
      break;
    case FieldKind::Size:
      *static_cast<uint64_t*>(f.ptr) = read_size(it, src);
      break;
    case FieldKind::StringList:
      *static_cast<std::vector<std::string>*>(f.ptr) = read_list(it, src);
      break;
    case FieldKind::Family:
      *static_cast<ModelFamily*>(f.ptr) = read_family(it, src);
      break;
  }
}

std::string join_path(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

// The entries of a mapping as Items, rejecting duplicate keys (yaml-cpp keeps both silently,
// and the later one winning would hide a mistake).
std::vector<Item> entries(const YAML::Node& map, const std::string& prefix, const Source& src) {
  std::vector<Item> out;
  std::map<std::string, YAML::Mark> seen;
  for (auto kv : map) {
    if (!kv.first.IsScalar())
      throw Error(str(prefix.empty() ? "top level" : prefix, ": keys must be plain names, got ",
                      describe(kv.first), src.where(kv.first.Mark())));
    std::string key = kv.first.Scalar();
    Item it{join_path(prefix, key), kv.first, kv.second};
    auto [pos, fresh] = seen.emplace(key, kv.first.Mark());
    if (!fresh)
      throw Error(str(it.path, ": given twice", src.where(pos->second), " and",
                      src.where(kv.first.Mark()), "; keep one"));
    out.push_back(it);
  }
  return out;
}

const Field* find_field(const Section& s, const std::string& key) {
  for (const Field& f : s.fields)
    if (f.name == key) return &f;
  return nullptr;
}

[[noreturn]] void unknown_key(const Item& it, const std::vector<std::string>& valid,
                              const Source& src) {
  std::string key = it.key.Scalar();
  throw Error(str(it.path, ": unknown key", src.where(it.key.Mark()), suggestion(key, valid)));
}

void apply_preset(JobConfig& c, const Item& it, const Source& src) {
  if (!it.value.IsScalar()) type_error(it, src, "a model preset name");
  std::string name = trim(it.value.Scalar());
  if (auto m = find_model_preset(name)) {
    c.model = *m;
    return;
  }
  throw Error(str(it.path, ": unknown model preset '", name, "'", src.where(mark_of(it)),
                  suggestion(name, model_preset_names())));
}

void apply_section(const Section& s, const Item& sec, JobConfig& c, const Source& src) {
  const bool is_model = s.name == "model";
  if (sec.value.IsNull()) return;  // a section whose keys are all commented out
  if (is_model && sec.value.IsScalar()) return apply_preset(c, sec, src);
  if (!sec.value.IsMap())
    type_error(sec, src,
               is_model ? "a model preset name or a mapping of model keys"
                        : str("a mapping of ", s.name, " keys"));
  std::vector<Item> items = entries(sec.value, sec.path, src);
  // The preset replaces the whole model, so it goes first wherever it is written.
  if (is_model)
    for (const Item& it : items)
      if (it.key.Scalar() == "preset") apply_preset(c, it, src);
  std::vector<std::string> valid = field_names(s);
  if (is_model) valid.push_back("preset");
  for (const Item& it : items) {
    const std::string& key = it.key.Scalar();
    if (is_model && key == "preset") continue;
    const Field* f = find_field(s, key);
    if (!f) unknown_key(it, valid, src);
    read_field(*f, it, src);
  }
}

}  // namespace

void apply_yaml(JobConfig& c, const YAML::Node& root, const Source& src) {
  if (!root || root.IsNull()) return;  // an empty or all-comment file: the defaults
  if (!root.IsMap())
    throw Error(str("job config: expected a mapping of sections (name, backend, model, data, ",
                    "train, memory, activations) at the top level, got ", describe(root),
                    src.where(root.Mark())));
  std::vector<Section> sections = schema(c);
  const Section& top = sections.front();
  std::vector<std::string> valid = field_names(top);
  for (size_t i = 1; i < sections.size(); ++i) valid.emplace_back(sections[i].name);

  for (const Item& it : entries(root, "", src)) {
    const std::string& key = it.key.Scalar();
    if (const Field* f = find_field(top, key)) {
      read_field(*f, it, src);
      continue;
    }
    const Section* sec = nullptr;
    for (size_t i = 1; i < sections.size(); ++i)
      if (sections[i].name == key) sec = &sections[i];
    if (!sec) unknown_key(it, valid, src);
    apply_section(*sec, it, c, src);
  }
}

}  // namespace mart::config_detail
