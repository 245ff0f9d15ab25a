// The tokenizer seam: one interface for the byte tokenizer, SentencePiece models and byte-level
// BPE (GPT-2 / Llama-3 style), so data preparation, the trainer's checkpoints, `mart generate` and
// `mart eval` never care which one a job uses. A job names its tokenizer with `data.tokenizer`
// (empty: bytes); a checkpoint's model folder carries the tokenizer's files (files()), so a model
// and the tokenizer it was trained with travel together.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mart {

enum class TokenizerKind {
  Byte,           // token = byte value, vocab 256 (runtime/data/byte_tokenizer.h)
  SentencePiece,  // a SentencePiece model file (Llama-2 style tokenizer.model)
  ByteLevelBpe,   // GPT-2 / Llama-3 byte-level BPE: tokenizer.json, or encoder.json + vocab.bpe
};

// Thread-safety: every const member may be called from several threads at once.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual TokenizerKind kind() const = 0;
  // One past the largest id encode() can return; a model's vocab_size must be at least this.
  virtual uint32_t vocab_size() const = 0;
  // Plain text to ids. No BOS/EOS is added: callers add bos_id()/eos_id() where they want them.
  virtual std::vector<uint32_t> encode(std::string_view text) const = 0;
  // Text that continues earlier text, cut just after a newline (prepare-data's chunks after the
  // first): encode() without start-of-text treatment, so encoding a file chunk by chunk gives the
  // ids of encoding it whole. Only SentencePiece differs (no dummy-prefix space).
  virtual std::vector<uint32_t> encode_continuation(std::string_view text) const {
    return encode(text);
  }
  // Ids to text. Throws mart::Error naming the first id >= vocab_size() and its index. The bytes
  // of a multi-byte character may be split across ids: decode a whole sequence (or a growing
  // prefix) to stream text, not id by id.
  virtual std::string decode(std::span<const uint32_t> ids) const = 0;
  // Special tokens, when the tokenizer defines them.
  virtual std::optional<uint32_t> bos_id() const = 0;
  virtual std::optional<uint32_t> eos_id() const = 0;
  // The files that define this tokenizer (absolute paths), copied next to a checkpoint's weights
  // so the model folder is self-contained; empty for the byte tokenizer.
  virtual std::vector<std::string> files() const = 0;
  // One line for logs and errors: "byte", "sentencepiece tokenizer.model (vocab 8000)", ...
  virtual std::string describe() const = 0;
};

std::unique_ptr<Tokenizer> make_byte_tokenizer();

// The tokenizer at `path`: "" or "byte" for bytes; a SentencePiece model file (any name not
// ending in .json/.bpe); a Hugging Face tokenizer.json (byte-level BPE); an encoder.json or a
// vocab.bpe (the other beside it); or a folder holding one of those, tried in the order
// tokenizer.model, tokenizer.json, encoder.json + vocab.bpe (docs/TOKENIZERS.md). Throws
// mart::Error naming the path and what was looked for when none is there, or the file and
// position of a malformed one.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

}  // namespace mart
