#include "runtime/checkpoint/checkpoint_manifest.h"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/error.h"
#include "io/atomic_file.h"
#include "io/checksum.h"
#include "runtime/checkpoint/checkpoint_fs.h"

namespace mart {
namespace {

// Format 2: exactly these, flat.
constexpr std::array<const char*, 4> kFlatFiles = {"config.json", "model.safetensors",
                                                   "optimizer.safetensors", "trainer_state.json"};
// Format 3: these must be listed; any other listed path is a file inside model/.
constexpr std::array<const char*, 5> kRequiredFiles = {
    "model/config.json", "model/generation_config.json", "model/model.safetensors",
    "optimizer.safetensors", "trainer_state.json"};

// The CRC the manifest carries: of its content without the CRC field, in nlohmann's compact dump
// (object keys sorted), so writer and reader agree byte for byte.
uint32_t table_crc(const nlohmann::json& format_version, const nlohmann::json& files) {
  const std::string canon =
      nlohmann::json{{"format_version", format_version}, {"files", files}}.dump();
  return crc32c(canon.data(), canon.size());
}

void write_manifest(const std::string& dir, int version, const std::vector<std::string>& names) {
  nlohmann::json files = nlohmann::json::object();
  for (const std::string& f : names) {
    const std::string p = dir + "/" + f;
    files[f] = {{"bytes", ckpt_fs::regular_file_size(p, "checkpoint file")},
                {"crc32c", crc32c_file(p)}};
  }
  nlohmann::json m = {{"format_version", version}, {"files", files}};
  m["manifest_crc32c"] = table_crc(m["format_version"], files);
  const std::string text = m.dump(2) + "\n";
  write_file_atomic(dir + "/" + kManifestName, text.data(), text.size());
}

// A listed path a format 3 manifest may hold: a required file, or model/NAME with NAME a plain
// file name (no "..", no deeper folder), so an edited manifest cannot point outside the checkpoint.
bool allowed_v3_path(const std::string& f) {
  if (std::find(kRequiredFiles.begin(), kRequiredFiles.end(), f) != kRequiredFiles.end())
    return true;
  const std::string prefix = std::string(kCheckpointModelDir) + "/";
  if (!f.starts_with(prefix)) return false;
  const std::string name = f.substr(prefix.size());
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\\') == std::string::npos;
}

// Checks that the file table of a format 2 or 3 manifest names what that format requires.
void check_file_table(const std::string& path, int version, const nlohmann::json& files) {
  if (version == kFlatCheckpointFormatVersion) {
    MART_CHECK(files.size() == kFlatFiles.size(), "corrupt checkpoint: ", path, " lists ",
               files.size(), " files; a format 2 checkpoint has exactly ", kFlatFiles.size(),
               " (config.json, model.safetensors, optimizer.safetensors, trainer_state.json)");
    for (const char* f : kFlatFiles)
      MART_CHECK(files.contains(f), "corrupt checkpoint: ", path, " does not list ", f);
    return;
  }
  for (const char* f : kRequiredFiles)
    MART_CHECK(files.contains(f), "corrupt checkpoint: ", path, " does not list ", f);
  for (const auto& [f, e] : files.items())
    MART_CHECK(allowed_v3_path(f), "corrupt checkpoint: ", path, " lists '", f,
               "', which is not a checkpoint file (optimizer.safetensors, trainer_state.json or a "
               "file inside model/)");
}

// A missing manifest: a format 1 checkpoint, or not a checkpoint at all.
[[noreturn]] void fail_no_manifest(const std::string& dir) {
  const std::string state = dir + "/trainer_state.json";
  bool v1 = false;
  try {
    v1 = nlohmann::json::parse(ckpt_fs::read_small_file(state, "checkpoint file"))
             .value("format_version", 0) == 1;
  } catch (const std::exception&) {
  }
  MART_CHECK(!v1, "checkpoint ", dir,
             " has format_version 1, written by an older MART whose trainer_state.json and "
             "config.json carry no checksum; this MART reads format_version ",
             kFlatCheckpointFormatVersion, " and ", kCheckpointFormatVersion,
             ". To continue from its weights, start a new run with --init-from ", dir,
             " (the optimizer state and data position are not carried over)");
  MART_FAIL("corrupt checkpoint: ", dir, "/", kManifestName,
            " is missing (an incomplete or damaged checkpoint, or not a MART checkpoint)");
}

}  // namespace

void write_checkpoint_manifest(const std::string& dir) {
  std::vector<std::string> names = {"optimizer.safetensors", "trainer_state.json"};
  for (const std::string& f : ckpt_fs::list_dir(dir + "/" + kCheckpointModelDir))
    names.push_back(std::string(kCheckpointModelDir) + "/" + f);
  write_manifest(dir, kCheckpointFormatVersion, names);
}

void write_flat_checkpoint_manifest(const std::string& dir) {
  write_manifest(dir, kFlatCheckpointFormatVersion, {kFlatFiles.begin(), kFlatFiles.end()});
}

// DIR/manifest.json parsed (any JSON value: callers check its shape); throws naming the file when
// it is missing or not JSON.
nlohmann::json read_manifest_json(const std::string& dir) {
  const std::string path = dir + "/" + kManifestName;
  if (!ckpt_fs::exists(path)) fail_no_manifest(dir);
  try {
    return nlohmann::json::parse(ckpt_fs::read_small_file(path, "checkpoint manifest"));
  } catch (const nlohmann::json::exception&) {
    MART_FAIL("corrupt checkpoint: ", path, " is not valid JSON");
  }
}

std::string checkpoint_model_dir(const std::string& dir) {
  const nlohmann::json m = read_manifest_json(dir);
  const bool flat = m.is_object() && m.value("format_version", 0) == kFlatCheckpointFormatVersion;
  return flat ? dir : dir + "/" + kCheckpointModelDir;
}

int verify_checkpoint_manifest(const std::string& dir, bool json_only) {
  const std::string path = dir + "/" + kManifestName;
  const nlohmann::json m = read_manifest_json(dir);
  const bool shape_ok = m.is_object() && m.size() == 3 && m.contains("format_version") &&
                        m.contains("files") && m["files"].is_object() &&
                        m.contains("manifest_crc32c") && m["manifest_crc32c"].is_number_unsigned();
  MART_CHECK(shape_ok, "corrupt checkpoint: ", path,
             " must hold exactly format_version, files and manifest_crc32c");
  MART_CHECK(m["manifest_crc32c"].get<uint64_t>() == table_crc(m["format_version"], m["files"]),
             "corrupt checkpoint: ", path, " fails its own CRC32C check (the manifest was edited)");
  const nlohmann::json& v = m["format_version"];
  MART_CHECK(v == kCheckpointFormatVersion || v == kFlatCheckpointFormatVersion, "checkpoint ", dir,
             " has format_version ", v.dump(), "; this MART reads ", kFlatCheckpointFormatVersion,
             " and ", kCheckpointFormatVersion);
  const int version = v.get<int>();
  const nlohmann::json& files = m["files"];
  check_file_table(path, version, files);
  for (const auto& [f, e] : files.items()) {
    const std::string p = dir + "/" + f;
    MART_CHECK(e.is_object() && e.contains("bytes") && e["bytes"].is_number_unsigned() &&
                   e.contains("crc32c") && e["crc32c"].is_number_unsigned(),
               "corrupt checkpoint: ", path, ": the entry of ", f,
               " must hold unsigned integers bytes and crc32c");
    MART_CHECK(ckpt_fs::exists(p) || ckpt_fs::is_directory(p), "corrupt checkpoint: ", p,
               " is missing");
    const uint64_t bytes = ckpt_fs::regular_file_size(p, "checkpoint file");
    const uint64_t want = e["bytes"].get<uint64_t>();
    MART_CHECK(bytes == want, "corrupt checkpoint: ", p, " has ", bytes, " bytes, expected ", want,
               " (truncated?)");
    const bool weights = f.ends_with(".safetensors");
    if (json_only && weights) continue;
    MART_CHECK(crc32c_file(p) == e["crc32c"].get<uint64_t>(), "corrupt checkpoint: ", p,
               " fails its CRC32C check");
  }
  return version;
}

}  // namespace mart
