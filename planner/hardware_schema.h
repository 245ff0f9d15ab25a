// The hardware-profile schema: ONE table of fields (name, unit, default, required?, doc) that every
// reader and writer walks — the profile JSON's "hardware" object (planner/profile.cpp), the
// hardware .yaml files (planner/hardware.cpp, configs/hardware/), the measured profile
// (profiler/measure_hardware.cpp fills the struct, then validates through here) — and that the
// field table in docs/PLANNER.md is rendered from (hardware_schema_markdown(); a test compares).
//
// Units: the struct and the JSON hold SI base units (bytes, bytes/s, FLOP/s, elements/s); the YAML
// holds human ones (sizes with units, GB/s, TFLOP/s, 1e9 elements/s). Field::scale converts.
#pragma once
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "planner/profile.h"

namespace mart {

enum class HwUnit { Text, Flag, Bytes, BytesPerS, FlopPerS, ElemsPerS, Ratio };

struct HwField {
  using Member = std::variant<std::string HardwareProfile::*, bool HardwareProfile::*,
                              uint64_t HardwareProfile::*, double HardwareProfile::*>;
  const char* json;  // key in a profile's "hardware" object (SI units)
  const char* yaml;  // key in a hardware .yaml (human units)
  HwUnit unit;
  bool required;
  const char* default_doc;  // what an absent optional key means ("" when required)
  const char* doc;
  Member member;
  // Sets the default of an absent optional key; runs in table order, after every present key is
  // read, so a default may depend on fields above it (never below).
  void (*set_default)(HardwareProfile&);
};

const std::vector<HwField>& hardware_fields();
// YAML value * yaml_scale(unit) = struct value (GB/s -> bytes/s, TFLOP/s -> FLOP/s, ...).
double yaml_scale(HwUnit u);
const char* yaml_unit_name(HwUnit u);
// Fills every optional field whose key was absent (present[i] for hardware_fields()[i]).
void apply_hardware_defaults(HardwareProfile& h, const std::vector<bool>& present);
// Throws mart::Error naming `origin` and the field when a value is out of range.
void validate_hardware(const HardwareProfile& h, const std::string& origin);
// The field table as docs/PLANNER.md shows it (Markdown).
std::string hardware_schema_markdown();

}  // namespace mart
