#include "runtime/data/tokenizer.h"

#include "common/error.h"
#include "runtime/data/byte_tokenizer.h"

namespace mart {

namespace {

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

}  // namespace

std::unique_ptr<Tokenizer> make_byte_tokenizer() {
  return std::make_unique<ByteTokenizerAdapter>();
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  if (path.empty() || path == "byte") return make_byte_tokenizer();
  MART_FAIL("tokenizer '", path,
            "': only the byte tokenizer exists in this build (data.tokenizer: byte)");
}

}  // namespace mart
