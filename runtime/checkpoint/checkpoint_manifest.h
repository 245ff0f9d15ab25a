// The checksum manifest of a training checkpoint (format 3): manifest.json lists every file of the
// checkpoint by its path relative to the checkpoint directory, with its size and CRC32C, and
// carries a CRC32C of its own canonical serialisation,
//   {"format_version": 3,
//    "files": {"model/config.json": {"bytes": N, "crc32c": C}, "model/model.safetensors": {...},
//              "model/generation_config.json": {...}, "model/tokenizer.model": {...} (tokenizer
//              files, when the job has one), "optimizer.safetensors": {...},
//              "trainer_state.json": {...}},
//    "manifest_crc32c": CRC32C of {"files": ..., "format_version": 3}.dump() (sorted keys,
//                       no spaces)}
// so an edit to any file -- trainer_state.json's step, loader position or seeds, config.json, a
// weight, a tokenizer file -- or to the manifest itself (a changed size, an emptied file list) is
// detected. The required files must be listed (a manifest listing fewer cannot switch checks off),
// and every listed path is either a top-level file above or a plain name inside model/.
//
// Format history: format 1 (MART before this manifest) kept the file table inside
// trainer_state.json, which itself was not covered; it is refused with a message saying so (its
// weights still load with `mart train --init-from DIR`). Format 2 kept the Hugging Face files flat
// beside the optimizer state (exactly config.json, model.safetensors, optimizer.safetensors,
// trainer_state.json); it still verifies, loads and resumes.
#pragma once
#include <string>

namespace mart {

inline constexpr int kCheckpointFormatVersion = 3;
inline constexpr int kFlatCheckpointFormatVersion = 2;  // still read
inline constexpr const char* kManifestName = "manifest.json";
// The subfolder of a format 3 checkpoint that transformers' from_pretrained reads.
inline constexpr const char* kCheckpointModelDir = "model";

// Writes DIR/manifest.json (atomically, fsync'ed) in format 3, covering optimizer.safetensors,
// trainer_state.json and every regular file in DIR/model.
void write_checkpoint_manifest(const std::string& dir);
// Format 2 (flat: DIR/config.json, DIR/model.safetensors, ...), kept so tests can write the
// checkpoints older MART versions wrote.
void write_flat_checkpoint_manifest(const std::string& dir);

// Verifies DIR/manifest.json and every file it lists (regular file, size, CRC32C); with
// `json_only`, the two safetensors files are checked for presence and size only (for reading the
// config without reading gigabytes of weights). Throws mart::Error naming the file and the
// problem, starting "corrupt checkpoint: ".
// Returns the format version (2 or 3).
int verify_checkpoint_manifest(const std::string& dir, bool json_only = false);

// Where the Hugging Face files of checkpoint DIR are: DIR/model (format 3) or DIR (format 2), by
// the manifest's format_version. Throws like verify_checkpoint_manifest when it cannot be read.
std::string checkpoint_model_dir(const std::string& dir);

}  // namespace mart
