// The hardware schema: one field table for the JSON and YAML readers and writers and the docs,
// one set of defaults, and the built-in presets compiled from configs/hardware/*.yaml.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "planner/hardware.h"
#include "planner/hardware_presets.h"
#include "planner/hardware_schema.h"

namespace mart {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The required keys only, in YAML.
std::string minimal_yaml(const std::string& backend) {
  return "name: x\nestimated: false\nbackend: " + backend +
         "\ndevice_memory: 8GiB\nhost_memory: 16GiB\nh2d_gbps: 10\nd2h_gbps: 11\n"
         "h2d_duplex_gbps: 8\nd2h_duplex_gbps: 9\npeak_tflops: 100\nmatmul_tflops: 80\n"
         "mem_bw_gbps: 900\ncpu_adam_gelems: 1\ndevice_adam_gelems: 30\n";
}

TEST(HardwareSchema, BuiltInsAreTheFilesCompiledIn) {
  ASSERT_FALSE(hardware_preset_texts().empty());
  for (const auto& p : hardware_preset_texts()) {
    SCOPED_TRACE(p.name);
    const std::string path = std::string(MART_SOURCE_DIR) + "/configs/hardware/" + p.name + ".yaml";
    ASSERT_TRUE(std::filesystem::exists(path)) << path;
    // The binary holds the file's text (a stale embed would show here), and the name inside it
    // is the file name.
    EXPECT_EQ(read_text(path), p.yaml);
    const HardwareProfile h = builtin_hardware(p.name);
    EXPECT_EQ(h.name, p.name);
    EXPECT_TRUE(h.estimated);
    EXPECT_EQ(to_json(load_hardware_yaml(path)), to_json(h));
    // Both writers round-trip through their readers.
    EXPECT_EQ(to_json(hardware_from_yaml(hardware_to_yaml(h), p.name)), to_json(h));
    EXPECT_EQ(to_json(hardware_from_json(to_json(h))), to_json(h));
  }
  // Every file in configs/hardware/ is compiled in.
  size_t files = 0;
  for (auto& e :
       std::filesystem::directory_iterator(std::string(MART_SOURCE_DIR) + "/configs/hardware"))
    files += e.path().extension() == ".yaml";
  EXPECT_EQ(files, hardware_preset_texts().size());
  EXPECT_THROW(builtin_hardware("tpu-v9"), Error);
}

TEST(HardwareSchema, EveryFieldIsWrittenByBothWriters) {
  const HardwareProfile h = builtin_hardware("h100-sxm");
  const nlohmann::json j = to_json(h);
  const std::string y = hardware_to_yaml(h);
  EXPECT_EQ(j.size(), hardware_fields().size());
  for (const HwField& f : hardware_fields()) {
    EXPECT_TRUE(j.contains(f.json)) << f.json;
    EXPECT_NE(y.find(std::string(f.yaml) + ": "), std::string::npos) << f.yaml;
  }
}

// One set of defaults: an absent optional key means the same in a YAML file and a profile JSON.
TEST(HardwareSchema, OneSetOfDefaultsForJsonAndYaml) {
  for (const std::string backend : {"cpu", "cuda"}) {
    SCOPED_TRACE(backend);
    const HardwareProfile y = hardware_from_yaml(minimal_yaml(backend), "test");
    nlohmann::json j = to_json(y);
    for (const HwField& f : hardware_fields())
      if (!f.required) j.erase(f.json);
    const HardwareProfile fromj = hardware_from_json(j);
    EXPECT_EQ(to_json(fromj), to_json(y));
    EXPECT_EQ(y.pinned_limit, 0u);
    EXPECT_EQ(y.codec_bps, 0);
    EXPECT_EQ(y.attention_flops, y.matmul_flops);
    EXPECT_EQ(y.compute_on_host, backend == "cpu");
    EXPECT_EQ(y.host_overlap_rate, backend == "cpu" ? 0.5 : 1.0);
    EXPECT_EQ(y.h2d_bps, 10e9);
    EXPECT_EQ(y.peak_flops, 100e12);
  }
}

// Negative controls: what the readers must refuse, naming the key.
TEST(HardwareSchema, RefusesMissingUnknownAndOutOfRange) {
  auto msg = [](const std::string& text) {
    try {
      hardware_from_yaml(text, "t.yaml");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  const std::string ok = minimal_yaml("cuda");
  EXPECT_EQ(msg(ok), "accepted");
  std::string no_bw = ok;
  no_bw.erase(no_bw.find("mem_bw_gbps"), std::string("mem_bw_gbps: 900\n").size());
  EXPECT_NE(msg(no_bw).find("missing key 'mem_bw_gbps'"), std::string::npos) << msg(no_bw);
  EXPECT_NE(msg(ok + "warp_size: 32\n").find("unknown key 'warp_size'"), std::string::npos);
  EXPECT_NE(msg(ok + "host_overlap_rate: 1.5\n").find("host_overlap_rate"), std::string::npos);
  EXPECT_NE(msg(ok + "attention_tflops: 0\n").find("attention_flops"), std::string::npos);
  EXPECT_NE(msg(ok + "codec_gbps: fast\n").find("'codec_gbps' must be"), std::string::npos);
  nlohmann::json j = to_json(hardware_from_yaml(ok, "t"));
  j.erase("matmul_flops");
  EXPECT_THROW(hardware_from_json(j), Error);
}

// docs/PLANNER.md shows the table rendered from the schema, verbatim.
TEST(HardwareSchema, DocsShowTheSchemaTable) {
  const std::string md = hardware_schema_markdown();
  for (const HwField& f : hardware_fields())
    EXPECT_NE(md.find(std::string("`") + f.json + "`"), std::string::npos) << f.json;
  const std::string doc = read_text(std::string(MART_SOURCE_DIR) + "/docs/PLANNER.md");
  EXPECT_NE(doc.find(md), std::string::npos)
      << "docs/PLANNER.md must contain the hardware field table exactly as "
         "hardware_schema_markdown() renders it:\n"
      << md;
}

}  // namespace
}  // namespace mart
