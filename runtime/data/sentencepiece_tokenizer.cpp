#include "runtime/data/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace mart {

namespace {

std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  MART_CHECK(in.good(), "tokenizer '", path, "': cannot open the file for reading");
  std::ostringstream ss;
  ss << in.rdbuf();
  MART_CHECK(!in.bad(), "tokenizer '", path, "': read error");
  return ss.str();
}

// Protobuf wire format helpers: just enough to copy top-level fields and rewrite one.
bool read_varint(const std::string& s, size_t& pos, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && pos < s.size(); shift += 7) {
    const auto b = static_cast<unsigned char>(s[pos++]);
    v |= uint64_t(b & 0x7F) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

void write_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

class SentencePieceTokenizer final : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const std::string& path) : path_(path) {
    std::error_code ec;
    path_ = std::filesystem::absolute(path, ec).lexically_normal().string();
    if (ec) path_ = path;
    const std::string model = read_whole_file(path);
    load(sp_, model);
    // Text that continues earlier text (a prepare-data chunk after the first) must not get the
    // "▁" SentencePiece puts at the start of a text, or chunked encoding would differ.
    std::string continuing;
    try {
      continuing = sentencepiece_without_dummy_prefix(model);
    } catch (const Error& e) {
      MART_FAIL("tokenizer '", path_, "': ", e.what());
    }
    load(sp_continue_, continuing);
    vocab_ = static_cast<uint32_t>(sp_.GetPieceSize());
  }

  TokenizerKind kind() const override { return TokenizerKind::SentencePiece; }
  uint32_t vocab_size() const override { return vocab_; }
  std::vector<uint32_t> encode(std::string_view text) const override {
    return run_encode(sp_, text);
  }
  std::vector<uint32_t> encode_continuation(std::string_view text) const override {
    return run_encode(sp_continue_, text);
  }
  std::string decode(std::span<const uint32_t> ids) const override {
    std::vector<int> v(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      MART_CHECK(ids[i] < vocab_, "sentencepiece tokenizer '", path_, "': id ", ids[i],
                 " at index ", i, " is outside the vocabulary (", vocab_,
                 " pieces); were these ids made by another tokenizer?");
      v[i] = static_cast<int>(ids[i]);
    }
    std::string out;
    const auto st = sp_.Decode(v, &out);
    MART_CHECK(st.ok(), "sentencepiece tokenizer '", path_, "': decode failed: ", st.ToString());
    return out;
  }
  std::optional<uint32_t> bos_id() const override { return id_or_none(sp_.bos_id()); }
  std::optional<uint32_t> eos_id() const override { return id_or_none(sp_.eos_id()); }
  std::vector<std::string> files() const override { return {path_}; }
  std::string describe() const override {
    return str("sentencepiece ", std::filesystem::path(path_).filename().string(), " (vocab ",
               vocab_, ")");
  }

 private:
  void load(sentencepiece::SentencePieceProcessor& sp, const std::string& model) {
    const auto st = sp.LoadFromSerializedProto(model);
    MART_CHECK(st.ok(), "tokenizer '", path_,
               "' is not a SentencePiece model (libsentencepiece: ", st.ToString(),
               "); give a tokenizer.model, a tokenizer.json, or encoder.json with vocab.bpe");
    MART_CHECK(sp.GetPieceSize() > 0, "tokenizer '", path_, "': the model has no pieces");
  }
  std::vector<uint32_t> run_encode(const sentencepiece::SentencePieceProcessor& sp,
                                   std::string_view text) const {
    std::vector<int> ids;
    const auto st = sp.Encode(std::string(text), &ids);
    MART_CHECK(st.ok(), "sentencepiece tokenizer '", path_, "': encode failed: ", st.ToString());
    return std::vector<uint32_t>(ids.begin(), ids.end());
  }
  static std::optional<uint32_t> id_or_none(int id) {
    if (id < 0) return std::nullopt;
    return static_cast<uint32_t>(id);
  }

  std::string path_;
  sentencepiece::SentencePieceProcessor sp_, sp_continue_;
  uint32_t vocab_ = 0;
};

}  // namespace

std::string sentencepiece_without_dummy_prefix(const std::string& model) {
  constexpr uint64_t kNormalizerSpec = 3;                         // ModelProto.normalizer_spec
  const std::string kNoDummyPrefix = std::string("\x18\x00", 2);  // field 3 (bool) = false
  std::string out;
  size_t pos = 0;
  bool patched = false;
  while (pos < model.size()) {
    const size_t start = pos;
    uint64_t key = 0, len = 0;
    MART_CHECK(read_varint(model, pos, key), "malformed SentencePiece model (field key)");
    const uint64_t wire = key & 7;
    if (wire == 0) {
      MART_CHECK(read_varint(model, pos, len), "malformed SentencePiece model (varint)");
    } else if (wire == 1 || wire == 5) {
      pos += wire == 1 ? 8 : 4;
    } else if (wire == 2) {
      MART_CHECK(read_varint(model, pos, len) && len <= model.size() - pos,
                 "malformed SentencePiece model (length)");
      if ((key >> 3) == kNormalizerSpec) {
        write_varint(out, key);
        write_varint(out, len + kNoDummyPrefix.size());
        out.append(model, pos, len);
        out += kNoDummyPrefix;
        pos += len;
        patched = true;
        continue;
      }
      pos += len;
    } else {
      MART_FAIL("malformed SentencePiece model (wire type ", wire, ")");
    }
    MART_CHECK(pos <= model.size(), "malformed SentencePiece model (truncated field)");
    out.append(model, start, pos - start);
  }
  if (!patched) {  // no spec: add one that only turns the prefix off
    write_varint(out, (kNormalizerSpec << 3) | 2);
    write_varint(out, kNoDummyPrefix.size());
    out += kNoDummyPrefix;
  }
  return out;
}

std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const std::string& path) {
  return std::make_unique<SentencePieceTokenizer>(path);
}

}  // namespace mart
