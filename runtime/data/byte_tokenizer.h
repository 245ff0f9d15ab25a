// Byte-level tokenizer: token = byte value, vocab 256. No merges, no training -- any text becomes a
// token stream a small model can learn, which makes it the tokenizer for raw-text demos
// (tinyshakespeare) without shipping a BPE vocabulary.
#pragma once
#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/data/token_shard.h"

namespace mart {

class ByteTokenizer {
 public:
  static constexpr uint32_t kVocabSize = 256;

  std::vector<uint32_t> encode(std::string_view text) const;
  // Throws mart::Error naming the first token >= 256 and its index.
  std::string decode(std::span<const uint32_t> tokens) const;
};

struct PreparedData {
  std::string train_path;
  std::string val_path;  // empty when val_fraction == 0
  uint64_t train_tokens = 0;
  uint64_t val_tokens = 0;
  TokenFormat format = TokenFormat::U16;
};

// The checks prepare_data and prepare_data_with_tokenizer (runtime/data/prepare_tokens.h) share.
namespace prepare_detail {
// Refuses an empty output path or one that names a directory.
void check_output_name(const std::string& out_path);
// Refuses to replace the input text (same device and inode) or a non-regular file with a shard.
void check_output_file(const std::string& path, const std::string& text_path,
                       const struct stat& text_st);
// Creates the output's folder when it does not exist yet.
void make_parent_dir(const std::string& path);
// PREFIX of PREFIX.bin / PREFIX_val.bin.
std::string shard_prefix(const std::string& out_path);
}  // namespace prepare_detail

// Tokenizes the raw text file `text_path` with the byte tokenizer into uint16 llm.c shards:
//   train: PREFIX.bin       -- the first (1 - val_fraction) of the text
//   val:   PREFIX_val.bin   -- the last val_fraction of the text (only when val_fraction > 0)
// where PREFIX is `out_path` with a trailing ".bin" removed (so "data/tiny" and "data/tiny.bin"
// both give data/tiny.bin + data/tiny_val.bin; point data.train_pattern/val_pattern at those).
// val_fraction must be in [0, 1); when > 0 both parts get at least one token. The output's
// folder is created when missing. Files are written atomically. Throws mart::Error for a missing,
// empty or non-regular input (a FIFO, device or directory), a bad fraction, text too short to
// split, an `out_path` that is an existing directory or ends in '/', and an output that would
// replace the input itself (same file by any name). progress (optional): (input bytes written
// as tokens, input bytes) after each shard.
PreparedData prepare_data(const std::string& text_path, const std::string& out_path,
                          double val_fraction,
                          const std::function<void(uint64_t done, uint64_t total)>& progress = {});

}  // namespace mart
