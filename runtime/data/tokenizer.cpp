#include "runtime/data/tokenizer.h"

#include <filesystem>

#include "common/error.h"
#include "runtime/data/bpe_tokenizer.h"
#include "runtime/data/byte_tokenizer.h"
#include "runtime/data/sentencepiece_tokenizer.h"

namespace mart {

namespace {

namespace fs = std::filesystem;

class ByteTokenizerAdapter final : public Tokenizer {
 public:
  TokenizerKind kind() const override { return TokenizerKind::Byte; }
  uint32_t vocab_size() const override { return ByteTokenizer::kVocabSize; }
  std::vector<uint32_t> encode(std::string_view text) const override { return bytes_.encode(text); }
  std::string decode(std::span<const uint32_t> ids) const override { return bytes_.decode(ids); }
  std::optional<uint32_t> bos_id() const override { return std::nullopt; }
  std::optional<uint32_t> eos_id() const override { return std::nullopt; }
  std::vector<std::string> files() const override { return {}; }
  std::string describe() const override { return "byte (vocab 256)"; }

 private:
  ByteTokenizer bytes_;
};

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// A folder: tokenizer.model first (Hugging Face Llama-2 folders carry a tokenizer.json too, a
// SentencePiece-style BPE MART does not read), then tokenizer.json, then encoder.json + vocab.bpe.
std::unique_ptr<Tokenizer> load_from_folder(const fs::path& dir) {
  if (is_file(dir / "tokenizer.model"))
    return load_sentencepiece_tokenizer((dir / "tokenizer.model").string());
  if (is_file(dir / "tokenizer.json"))
    return load_hf_bpe_tokenizer((dir / "tokenizer.json").string());
  if (is_file(dir / "encoder.json") && is_file(dir / "vocab.bpe"))
    return load_gpt2_bpe_tokenizer((dir / "encoder.json").string(), (dir / "vocab.bpe").string());
  MART_FAIL("tokenizer folder '", dir.string(),
            "' holds none of tokenizer.model (SentencePiece), tokenizer.json (Hugging Face "
            "byte-level BPE), or encoder.json + vocab.bpe (GPT-2)");
}

}  // namespace

std::unique_ptr<Tokenizer> make_byte_tokenizer() {
  return std::make_unique<ByteTokenizerAdapter>();
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  if (path.empty() || path == "byte") return make_byte_tokenizer();
  const fs::path p(path);
  std::error_code ec;
  const auto st = fs::status(p, ec);
  MART_CHECK(fs::exists(st), "tokenizer '", path,
             "' does not exist (data.tokenizer / --tokenizer: 'byte', a SentencePiece "
             "tokenizer.model, a tokenizer.json, an encoder.json with vocab.bpe beside it, or a "
             "folder holding one of those)");
  if (fs::is_directory(st)) return load_from_folder(p);
  MART_CHECK(fs::is_regular_file(st), "tokenizer '", path, "' is not a regular file or folder");
  const std::string name = p.filename().string();
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  if (name.ends_with(".bpe")) {  // vocab.bpe: its encoder.json beside it
    MART_CHECK(is_file(dir / "encoder.json"), "tokenizer '", path,
               "' is a GPT-2 merges file, but encoder.json is not beside it in '", dir.string(),
               "'");
    return load_gpt2_bpe_tokenizer((dir / "encoder.json").string(), path);
  }
  if (name.ends_with(".json")) {
    if (name == "encoder.json" || (name != "tokenizer.json" && is_file(dir / "vocab.bpe"))) {
      MART_CHECK(is_file(dir / "vocab.bpe"), "tokenizer '", path,
                 "' is a GPT-2 encoder.json, but vocab.bpe (its merges) is not beside it in '",
                 dir.string(), "'");
      return load_gpt2_bpe_tokenizer(path, (dir / "vocab.bpe").string());
    }
    return load_hf_bpe_tokenizer(path);
  }
  return load_sentencepiece_tokenizer(path);
}

}  // namespace mart
