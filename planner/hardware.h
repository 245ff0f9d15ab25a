// Hardware descriptions for the planner: built-in datasheet presets (configs/hardware/*.yaml
// writes each out field by field; a test keeps the two equal), YAML files in that format, and the
// hardware section of a measured profile (`mart profile`).
//
// YAML format (every key required except `pinned_limit`, `codec_gbps`, `compute_on_host`,
// `host_overlap_rate`); bandwidths in GB/s (1e9 bytes/s), FLOP/s in TFLOP/s, Adam in elements/s:
//   name: h100-sxm
//   estimated: true            # datasheet figures, not measured here
//   backend: cuda              # cuda (bf16 activations) | cpu (fp32)
//   device_memory: 79GiB       # bytes or a unit string
//   host_memory: 1TiB
//   pinned_limit: 920GiB
//   h2d_gbps: 50               # pinned host -> device, one direction alone
//   d2h_gbps: 50
//   h2d_duplex_gbps: 40        # each direction while the other also runs
//   d2h_duplex_gbps: 40
//   peak_tflops: 989           # dense, act dtype (bf16 on CUDA, fp32 on CPU): MFU's denominator
//   matmul_tflops: 790         # what the matmul kernels achieve
//   mem_bw_gbps: 3350          # device memory
//   cpu_adam_gelems: 2.0       # CPU AdamW, 1e9 elements/s
//   device_adam_gelems: 75     # device AdamW, 1e9 elements/s
//   codec_gbps: 300            # activation codec, input GB/s
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
// The YAML above for `h` (round-trips through hardware_from_yaml).
std::string hardware_to_yaml(const HardwareProfile& h);
// NAME (built-in), a .yaml file, or a profile .json (its hardware section).
HardwareProfile resolve_hardware(const std::string& arg);
// The default for a job's backend: "cpu" for cpu, else "h100-sxm".
std::string default_hardware_name(const std::string& backend);

}  // namespace mart
