#include "planner/hardware.h"

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "common/units.h"

namespace mart {
namespace {

constexpr double G = 1e9, T = 1e12;
constexpr uint64_t GiB = 1ull << 30;

// Datasheet figures. Achieved rates (matmul, PCIe, Adam, codec) are typical values, not
// measurements of any particular machine: every preset is `estimated` until `mart profile`
// measures the real one. Host memory is a typical server (1 TiB, as ProTrain assumes) or
// workstation (128 GiB); override it with --host-mem.
HardwareProfile preset(const char* name, const char* backend, uint64_t dev, uint64_t host,
                       uint64_t pinned, double pcie, double duplex, double peak, double matmul,
                       double mem_bw, double cpu_adam, double dev_adam, double codec) {
  HardwareProfile h;
  h.name = name;
  h.estimated = true;
  h.backend = backend;
  h.device_memory = dev;
  h.host_memory = host;
  h.pinned_limit = pinned;
  h.h2d_bps = h.d2h_bps = pcie * G;
  h.h2d_duplex_bps = h.d2h_duplex_bps = duplex * G;
  h.peak_flops = peak * T;
  h.matmul_flops = matmul * T;
  h.mem_bw_bps = mem_bw * G;
  h.cpu_adam_elems_per_s = cpu_adam * G;
  h.device_adam_elems_per_s = dev_adam * G;
  h.codec_bps = codec * G;
  h.compute_on_host = h.backend == "cpu";
  h.host_overlap_rate = h.compute_on_host ? 0.5 : 1.0;
  return h;
}

std::vector<HardwareProfile> presets() {
  return {
      // H100 SXM5 80GB: 989 TFLOP/s bf16 dense, HBM3 3.35 TB/s, PCIe Gen5 x16.
      preset("h100-sxm", "cuda", 79 * GiB, 1024 * GiB, 920 * GiB, 50, 40, 989, 790, 3350, 2.0, 75,
             300),
      // H200 141GB: same GH100 compute, HBM3e 4.8 TB/s, PCIe Gen5 x16.
      preset("h200", "cuda", 139 * GiB, 1024 * GiB, 920 * GiB, 50, 40, 989, 790, 4800, 2.0, 105,
             400),
      // A100 SXM4 80GB: 312 TFLOP/s bf16 dense, HBM2e 2.04 TB/s, PCIe Gen4 x16.
      preset("a100-80gb", "cuda", 79 * GiB, 1024 * GiB, 920 * GiB, 25, 20, 312, 235, 2039, 2.0, 45,
             180),
      // RTX 4090 24GB: 165 TFLOP/s bf16 dense (fp32 accumulate), GDDR6X 1.01 TB/s, PCIe Gen4 x16.
      preset("rtx4090", "cuda", 23 * GiB, 128 * GiB, 112 * GiB, 25, 20, 165, 125, 1008, 1.0, 22,
             90),
      // RTX 3090 24GB: 71 TFLOP/s bf16 dense (fp32 accumulate), GDDR6X 936 GB/s, PCIe Gen4 x16.
      preset("rtx3090", "cuda", 23 * GiB, 128 * GiB, 112 * GiB, 24, 19, 71, 55, 936, 1.0, 20, 80),
      // The CPU backend on a generic 16-core server socket (fp32, OpenBLAS): "device" memory is
      // host memory; copies are memcpy by one worker thread each; compute and CPU Adam share
      // the cores.
      preset("cpu", "cpu", 64 * GiB, 64 * GiB, 0, 10, 8, 1.5, 1.0, 80, 1.0, 1.0, 2.0),
  };
}

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

}  // namespace

std::vector<std::string> builtin_hardware_names() {
  std::vector<std::string> n;
  for (auto& h : presets()) n.push_back(h.name);
  return n;
}

HardwareProfile builtin_hardware(const std::string& name) {
  std::string all;
  for (auto& h : presets()) {
    if (h.name == name) return h;
    all += (all.empty() ? "" : ", ") + h.name;
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
  static const char* known[] = {"name",
                                "estimated",
                                "backend",
                                "device_memory",
                                "host_memory",
                                "pinned_limit",
                                "h2d_gbps",
                                "d2h_gbps",
                                "h2d_duplex_gbps",
                                "d2h_duplex_gbps",
                                "peak_tflops",
                                "matmul_tflops",
                                "mem_bw_gbps",
                                "cpu_adam_gelems",
                                "device_adam_gelems",
                                "codec_gbps",
                                "compute_on_host",
                                "host_overlap_rate"};
  for (auto it : n) {
    const std::string k = it.first.as<std::string>();
    bool ok = false;
    for (const char* x : known) ok |= k == x;
    MART_CHECK(ok, origin, ": unknown key '", k, "' in a hardware description");
  }
  auto req = [&](const char* k) {
    MART_CHECK(n[k], origin, ": missing key '", k, "'");
    return n[k];
  };
  auto dbl = [&](const char* k) {
    try {
      return req(k).as<double>();
    } catch (const YAML::Exception&) {
      MART_FAIL(origin, ": '", k, "' must be a number");
    }
  };
  auto bytes = [&](const char* k) { return parse_size(req(k).as<std::string>()); };
  HardwareProfile h;
  h.name = req("name").as<std::string>();
  h.estimated = req("estimated").as<bool>();
  h.backend = req("backend").as<std::string>();
  h.device_memory = bytes("device_memory");
  h.host_memory = bytes("host_memory");
  h.pinned_limit = n["pinned_limit"] ? bytes("pinned_limit") : 0;
  h.h2d_bps = dbl("h2d_gbps") * G;
  h.d2h_bps = dbl("d2h_gbps") * G;
  h.h2d_duplex_bps = dbl("h2d_duplex_gbps") * G;
  h.d2h_duplex_bps = dbl("d2h_duplex_gbps") * G;
  h.peak_flops = dbl("peak_tflops") * T;
  h.matmul_flops = dbl("matmul_tflops") * T;
  h.mem_bw_bps = dbl("mem_bw_gbps") * G;
  h.cpu_adam_elems_per_s = dbl("cpu_adam_gelems") * G;
  h.device_adam_elems_per_s = dbl("device_adam_gelems") * G;
  h.codec_bps = n["codec_gbps"] ? dbl("codec_gbps") * G : 0;
  h.compute_on_host = n["compute_on_host"] ? n["compute_on_host"].as<bool>() : h.backend == "cpu";
  h.host_overlap_rate =
      n["host_overlap_rate"] ? dbl("host_overlap_rate") : (h.compute_on_host ? 0.5 : 1.0);
  // Validate through the JSON reader, which checks ranges and names problems.
  return hardware_from_json(to_json(h));
}

HardwareProfile load_hardware_yaml(const std::string& path) {
  std::ifstream f(path);
  MART_CHECK(f.good(), "cannot open hardware description ", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return hardware_from_yaml(ss.str(), path);
}

std::string hardware_to_yaml(const HardwareProfile& h) {
  std::ostringstream os;
  os << "name: " << h.name << "\n"
     << "estimated: " << (h.estimated ? "true" : "false") << "\n"
     << "backend: " << h.backend << "\n"
     << "device_memory: " << size_text(h.device_memory) << "\n"
     << "host_memory: " << size_text(h.host_memory) << "\n"
     << "pinned_limit: " << size_text(h.pinned_limit) << "\n"
     << "h2d_gbps: " << num(h.h2d_bps / G) << "\n"
     << "d2h_gbps: " << num(h.d2h_bps / G) << "\n"
     << "h2d_duplex_gbps: " << num(h.h2d_duplex_bps / G) << "\n"
     << "d2h_duplex_gbps: " << num(h.d2h_duplex_bps / G) << "\n"
     << "peak_tflops: " << num(h.peak_flops / T) << "\n"
     << "matmul_tflops: " << num(h.matmul_flops / T) << "\n"
     << "mem_bw_gbps: " << num(h.mem_bw_bps / G) << "\n"
     << "cpu_adam_gelems: " << num(h.cpu_adam_elems_per_s / G) << "\n"
     << "device_adam_gelems: " << num(h.device_adam_elems_per_s / G) << "\n"
     << "codec_gbps: " << num(h.codec_bps / G) << "\n"
     << "compute_on_host: " << (h.compute_on_host ? "true" : "false") << "\n"
     << "host_overlap_rate: " << num(h.host_overlap_rate) << "\n";
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
