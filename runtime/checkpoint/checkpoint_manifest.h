// The checksum manifest of a training checkpoint (format 2): manifest.json lists every file of the
// checkpoint with its size and CRC32C, and carries a CRC32C of its own canonical serialisation,
//   {"format_version": 2,
//    "files": {"config.json": {"bytes": N, "crc32c": C}, "model.safetensors": {...},
//              "optimizer.safetensors": {...}, "trainer_state.json": {...}},
//    "manifest_crc32c": CRC32C of {"files": ..., "format_version": 2}.dump() (sorted keys,
//                       no spaces)}
// so an edit to any file -- trainer_state.json's step, loader position or seeds, config.json, a
// weight -- or to the manifest itself (a changed size, an emptied file list) is detected. The file
// table must name exactly the four files: a manifest listing fewer cannot switch checks off.
//
// Format history: format 1 (MART before this manifest) kept the file table inside
// trainer_state.json, which itself was not covered. Format 1 checkpoints are refused with a
// message saying so; their weights still load with `mart train --init-from DIR`.
#pragma once
#include <string>

namespace mart {

inline constexpr int kCheckpointFormatVersion = 2;
inline constexpr const char* kManifestName = "manifest.json";

// Writes DIR/manifest.json (atomically, fsync'ed) covering the four checkpoint files in DIR.
void write_checkpoint_manifest(const std::string& dir);

// Verifies DIR/manifest.json and every file it lists (regular file, size, CRC32C); with
// `json_only`, the two safetensors files are checked for presence and size only (for reading the
// config without reading gigabytes of weights). Throws mart::Error naming the file and the
// problem, starting "corrupt checkpoint: ".
void verify_checkpoint_manifest(const std::string& dir, bool json_only = false);

}  // namespace mart
