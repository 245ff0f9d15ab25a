// Byte-level tokenizer: token = byte value, vocab 256. No merges, no training -- any text becomes a
// token stream a small model can learn, which makes it the tokenizer for raw-text demos
// (tinyshakespeare) without shipping a BPE vocabulary.
#pragma once
#include <cstdint>
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
};

// Tokenizes the raw text file `text_path` with the byte tokenizer into uint16 llm.c shards:
//   train: PREFIX.bin       -- the first (1 - val_fraction) of the text
//   val:   PREFIX_val.bin   -- the last val_fraction of the text (only when val_fraction > 0)
// where PREFIX is `out_path` with a trailing ".bin" removed (so "data/tiny" and "data/tiny.bin"
// both give data/tiny.bin + data/tiny_val.bin; point data.train_pattern/val_pattern at those).
// val_fraction must be in [0, 1); when > 0 both parts get at least one token. The output's
// folder is created when missing. Files are written atomically. Throws mart::Error for a missing,
// empty or non-regular input (a FIFO, device or directory), a bad fraction, text too short to
// split, an `out_path` that is an existing directory or ends in '/', and an output that would
// replace the input itself (same file by any name).
PreparedData prepare_data(const std::string& text_path, const std::string& out_path,
                          double val_fraction);

}  // namespace mart
