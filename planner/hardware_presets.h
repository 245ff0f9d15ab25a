// The built-in hardware presets: the texts of configs/hardware/*.yaml, compiled in at build time
// (CMakeLists.txt generates the definition), so `--hardware NAME` works from any directory and
// the YAML files are the only source of the figures.
#pragma once
#include <vector>

namespace mart {

struct HardwarePresetText {
  const char* name;  // the file name without .yaml
  const char* yaml;  // the file's text
};

// In file-name order; defined in the generated hardware_presets.cpp.
const std::vector<HardwarePresetText>& hardware_preset_texts();

}  // namespace mart
