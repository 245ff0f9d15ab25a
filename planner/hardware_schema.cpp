#include "planner/hardware_schema.h"

#include <sstream>

#include "common/error.h"

namespace mart {
namespace {

using H = HardwareProfile;

// Defaults of the optional fields: the one place they are decided (docs/PLANNER.md shows them).
// 0: all of host_memory may be pinned.
void no_pinned_limit(H& h) {
  h.pinned_limit = 0;
}
void attention_at_matmul_rate(H& h) {
  h.attention_flops = h.matmul_flops;
}
// No figure: the search does not plan compress modes.
void no_codec(H& h) {
  h.codec_bps = 0;
}
void host_compute_if_cpu(H& h) {
  h.compute_on_host = h.backend == "cpu";
}
// Compute and CPU Adam on the same cores: two bandwidth-bound jobs sharing the sockets' memory
// bandwidth each get about half of it (mart profile measures the real share). On a device the
// two never meet, and the rate is unused.
void half_speed_if_shared(H& h) {
  h.host_overlap_rate = h.compute_on_host ? 0.5 : 1.0;
}

}  // namespace

const std::vector<HwField>& hardware_fields() {
  static const std::vector<HwField> f = {
      {"name", "name", HwUnit::Text, true, "", "a label; a built-in preset's is its file name",
       &H::name, nullptr},
      {"estimated", "estimated", HwUnit::Flag, true, "",
       "true: datasheet and published figures, not measured on this machine", &H::estimated,
       nullptr},
      {"backend", "backend", HwUnit::Text, true, "", "`cuda` (bf16 activations) or `cpu` (fp32)",
       &H::backend, nullptr},
      {"device_memory", "device_memory", HwUnit::Bytes, true, "",
       "device memory the arena may take (after the runtime's context)", &H::device_memory,
       nullptr},
      {"host_memory", "host_memory", HwUnit::Bytes, true, "", "host RAM", &H::host_memory, nullptr},
      {"pinned_limit", "pinned_limit", HwUnit::Bytes, false, "0 (all of host_memory)",
       "host bytes that may be pinned", &H::pinned_limit, no_pinned_limit},
      {"h2d_bps", "h2d_gbps", HwUnit::BytesPerS, true, "",
       "pinned host to device copies, that direction alone", &H::h2d_bps, nullptr},
      {"d2h_bps", "d2h_gbps", HwUnit::BytesPerS, true, "",
       "device to pinned host copies, that direction alone", &H::d2h_bps, nullptr},
      {"h2d_duplex_bps", "h2d_duplex_gbps", HwUnit::BytesPerS, true, "",
       "host to device while device to host also copies", &H::h2d_duplex_bps, nullptr},
      {"d2h_duplex_bps", "d2h_duplex_gbps", HwUnit::BytesPerS, true, "",
       "device to host while host to device also copies", &H::d2h_duplex_bps, nullptr},
      {"peak_flops", "peak_tflops", HwUnit::FlopPerS, true, "",
       "datasheet dense peak in the activation dtype, no sparsity: MFU's denominator",
       &H::peak_flops, nullptr},
      {"matmul_flops", "matmul_tflops", HwUnit::FlopPerS, true, "",
       "achieved by the matmul kernels on training shapes", &H::matmul_flops, nullptr},
      {"attention_flops", "attention_tflops", HwUnit::FlopPerS, false, "matmul_flops",
       "achieved by fused causal attention, forward and backward (counted FLOPs: the causal half)",
       &H::attention_flops, attention_at_matmul_rate},
      {"mem_bw_bps", "mem_bw_gbps", HwUnit::BytesPerS, true, "",
       "achieved device-memory bandwidth (read + write bytes of a device copy): elementwise "
       "kernels",
       &H::mem_bw_bps, nullptr},
      {"cpu_adam_elems_per_s", "cpu_adam_gelems", HwUnit::ElemsPerS, true, "",
       "CPU AdamW over offloaded chunks", &H::cpu_adam_elems_per_s, nullptr},
      {"device_adam_elems_per_s", "device_adam_gelems", HwUnit::ElemsPerS, true, "",
       "AdamW on the device (persistent chunks)", &H::device_adam_elems_per_s, nullptr},
      {"codec_bps", "codec_gbps", HwUnit::BytesPerS, false, "0 (compress modes not planned)",
       "activation codec, input bytes per second (encode or decode)", &H::codec_bps, no_codec},
      {"compute_on_host", "compute_on_host", HwUnit::Flag, false, "backend is cpu",
       "compute, copies and CPU Adam share the host's cores", &H::compute_on_host,
       host_compute_if_cpu},
      {"host_overlap_rate", "host_overlap_rate", HwUnit::Ratio, false,
       "0.5 with compute_on_host, else 1",
       "with compute_on_host: the speed of compute and of CPU Adam, each relative to alone, "
       "while both run",
       &H::host_overlap_rate, half_speed_if_shared},
  };
  return f;
}

double yaml_scale(HwUnit u) {
  switch (u) {
    case HwUnit::Text:
    case HwUnit::Flag:
    case HwUnit::Bytes:
    case HwUnit::Ratio:
      return 1;
    case HwUnit::BytesPerS:
    case HwUnit::ElemsPerS:
      return 1e9;
    case HwUnit::FlopPerS:
      return 1e12;
  }
  return 1;
}

const char* yaml_unit_name(HwUnit u) {
  switch (u) {
    case HwUnit::Text:
      return "text";
    case HwUnit::Flag:
      return "true/false";
    case HwUnit::Bytes:
      return "bytes or a size (`79GiB`)";
    case HwUnit::Ratio:
      return "(0, 1]";
    case HwUnit::BytesPerS:
      return "GB/s (1e9 B/s)";
    case HwUnit::ElemsPerS:
      return "1e9 elements/s";
    case HwUnit::FlopPerS:
      return "TFLOP/s";
  }
  return "";
}

void apply_hardware_defaults(HardwareProfile& h, const std::vector<bool>& present) {
  const auto& f = hardware_fields();
  MART_CHECK(present.size() == f.size(), "hardware schema: one presence flag per field");
  for (size_t i = 0; i < f.size(); ++i)
    if (!present[i] && f[i].set_default) f[i].set_default(h);
}

void validate_hardware(const HardwareProfile& h, const std::string& origin) {
  MART_CHECK(h.backend == "cuda" || h.backend == "cpu", origin, ": hardware backend must be cuda ",
             "or cpu, got '", h.backend, "'");
  for (const HwField& f : hardware_fields()) {
    const auto* d = std::get_if<double H::*>(&f.member);
    if (!d) continue;
    const double v = h.*(*d);
    if (f.unit == HwUnit::Ratio)
      MART_CHECK(v > 0 && v <= 1, origin, ": hardware ", f.json, " must be in (0, 1], got ", v);
    else if (f.required || f.set_default == attention_at_matmul_rate)
      MART_CHECK(v > 0, origin, ": hardware '", h.name, "' has ", f.json, " = ", v,
                 ": every bandwidth, FLOP/s and elements/s figure must be > 0");
    else
      MART_CHECK(v >= 0, origin, ": hardware ", f.json, " must not be negative");
  }
}

std::string hardware_schema_markdown() {
  std::ostringstream os;
  os << "| JSON key (SI units) | YAML key | YAML unit | required | default | meaning |\n"
     << "|---|---|---|---|---|---|\n";
  for (const HwField& f : hardware_fields())
    os << "| `" << f.json << "` | `" << f.yaml << "` | " << yaml_unit_name(f.unit) << " | "
       << (f.required ? "yes" : "no") << " | " << (f.required ? "" : f.default_doc) << " | "
       << f.doc << " |\n";
  return os.str();
}

}  // namespace mart
