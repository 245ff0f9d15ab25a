#include "planner/hardware.h"

#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <type_traits>

#include "common/error.h"
#include "common/regular_file.h"
#include "common/units.h"
#include "planner/hardware_presets.h"
#include "planner/hardware_schema.h"

namespace mart {
namespace {

constexpr uint64_t GiB = 1ull << 30;

std::string num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", x);
  return buf;
}

std::string size_text(uint64_t b) {
  if (b == 0) return "0";
  if (b % GiB == 0) return std::to_string(b / GiB) + "GiB";
  if (b % (1ull << 20) == 0) return std::to_string(b >> 20) + "MiB";
  return std::to_string(b);
}

std::string known_keys() {
  std::string k;
  for (const HwField& f : hardware_fields()) k += (k.empty() ? "" : ", ") + std::string(f.yaml);
  return k;
}

// Reads one YAML value into the struct member, converting human units to SI.
void read_field(const YAML::Node& v, const HwField& f, HardwareProfile& h,
                const std::string& origin) {
  try {
    if (auto m = std::get_if<std::string HardwareProfile::*>(&f.member))
      h.*(*m) = v.as<std::string>();
    if (auto m = std::get_if<bool HardwareProfile::*>(&f.member)) h.*(*m) = v.as<bool>();
    if (auto m = std::get_if<uint64_t HardwareProfile::*>(&f.member))
      h.*(*m) = parse_size(v.as<std::string>());
    if (auto m = std::get_if<double HardwareProfile::*>(&f.member))
      h.*(*m) = v.as<double>() * yaml_scale(f.unit);
  } catch (const YAML::Exception&) {
    MART_FAIL(origin, ": '", f.yaml, "' must be ", yaml_unit_name(f.unit));
  }
}

std::string write_field(const HwField& f, const HardwareProfile& h) {
  if (auto m = std::get_if<std::string HardwareProfile::*>(&f.member)) return h.*(*m);
  if (auto m = std::get_if<bool HardwareProfile::*>(&f.member)) return h.*(*m) ? "true" : "false";
  if (auto m = std::get_if<uint64_t HardwareProfile::*>(&f.member)) return size_text(h.*(*m));
  const auto m = std::get<double HardwareProfile::*>(f.member);
  return num(h.*m / yaml_scale(f.unit));
}

}  // namespace

std::vector<std::string> builtin_hardware_names() {
  std::vector<std::string> n;
  for (const auto& p : hardware_preset_texts()) n.push_back(p.name);
  return n;
}

HardwareProfile builtin_hardware(const std::string& name) {
  std::string all;
  for (const auto& p : hardware_preset_texts()) {
    if (name == p.name) {
      HardwareProfile h = hardware_from_yaml(p.yaml, "configs/hardware/" + name + ".yaml");
      MART_CHECK(h.name == name, "configs/hardware/", name, ".yaml: its name is '", h.name,
                 "'; a built-in preset's name must be its file name");
      return h;
    }
    all += (all.empty() ? "" : ", ") + std::string(p.name);
  }
  MART_FAIL("unknown hardware '", name, "' (built-in: ", all,
            "; or give a hardware .yaml file or a profile .json from `mart profile`)");
}

HardwareProfile hardware_from_yaml(const std::string& text, const std::string& origin) {
  YAML::Node n;
  try {
    n = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    MART_FAIL(origin, ": not valid YAML: ", e.what());
  }
  MART_CHECK(n.IsMap(), origin, ": a hardware description is a mapping of keys");
  const auto& fields = hardware_fields();
  for (auto it : n) {
    const std::string k = it.first.as<std::string>();
    bool ok = false;
    for (const HwField& f : fields) ok |= k == f.yaml;
    MART_CHECK(ok, origin, ": unknown key '", k,
               "' in a hardware description (keys: ", known_keys(), ")");
  }
  HardwareProfile h;
  std::vector<bool> present;
  for (const HwField& f : fields) {
    present.push_back(static_cast<bool>(n[f.yaml]));
    MART_CHECK(present.back() || !f.required, origin, ": missing key '", f.yaml, "'");
    if (present.back()) read_field(n[f.yaml], f, h, origin);
  }
  apply_hardware_defaults(h, present);
  validate_hardware(h, origin);
  return h;
}

HardwareProfile load_hardware_yaml(const std::string& path) {
  // A FIFO, device or directory is refused before it is read (it could block forever).
  return hardware_from_yaml(read_regular_file(path, "hardware description", size_t{16} << 20),
                            path);
}

std::string hardware_to_yaml(const HardwareProfile& h) {
  std::ostringstream os;
  for (const HwField& f : hardware_fields()) os << f.yaml << ": " << write_field(f, h) << "\n";
  return os.str();
}

HardwareProfile resolve_hardware(const std::string& arg) {
  auto ends = [&](const char* s) {
    const std::string x = s;
    return arg.size() >= x.size() && arg.compare(arg.size() - x.size(), x.size(), x) == 0;
  };
  if (ends(".json")) return load_profile(arg).hardware;
  if (ends(".yaml") || ends(".yml")) return load_hardware_yaml(arg);
  return builtin_hardware(arg);
}

std::string default_hardware_name(const std::string& backend) {
  return backend == "cpu" ? "cpu" : "h100-sxm";
}

}  // namespace mart
