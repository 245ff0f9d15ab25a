// Hardware descriptions for the planner: the built-in presets (configs/hardware/*.yaml, compiled
// into the binary), YAML files in that format, and the hardware section of a measured profile
// (`mart profile`). Every reader and writer walks the one field table of planner/hardware_schema.h
// (keys, units, required keys and defaults; docs/PLANNER.md shows it).
//
// YAML example (sizes take units; bandwidths in GB/s = 1e9 B/s, FLOP/s in TFLOP/s, Adam in 1e9
// elements/s; unknown keys are an error):
//   name: h100-sxm
//   estimated: true            # datasheet / published figures, not measured here
//   backend: cuda              # cuda (bf16 activations) | cpu (fp32)
//   device_memory: 79GiB
//   host_memory: 1TiB
//   h2d_gbps: 53 ...
#pragma once
#include <string>
#include <vector>

#include "planner/profile.h"

namespace mart {

std::vector<std::string> builtin_hardware_names();
// Throws mart::Error listing the built-in names when `name` is not one.
HardwareProfile builtin_hardware(const std::string& name);
HardwareProfile hardware_from_yaml(const std::string& text, const std::string& origin);
HardwareProfile load_hardware_yaml(const std::string& path);
// The YAML above for `h`, every field (round-trips through hardware_from_yaml).
std::string hardware_to_yaml(const HardwareProfile& h);
// NAME (built-in), a .yaml file, or a profile .json (its hardware section).
HardwareProfile resolve_hardware(const std::string& arg);
// The default for a job's backend: "cpu" for cpu, else "h100-sxm".
std::string default_hardware_name(const std::string& backend);

}  // namespace mart
