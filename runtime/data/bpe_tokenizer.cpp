#include "runtime/data/bpe_tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <queue>
#include <sstream>
#include <tuple>
#include <unordered_map>

#include "common/error.h"
#include "runtime/data/bpe_pretokenizer.h"
#include "runtime/data/unicode_classes.h"

namespace mart {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string absolute_path(const std::string& p) {
  std::error_code ec;
  const fs::path a = fs::absolute(p, ec);
  return ec ? p : a.lexically_normal().string();
}

json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  MART_CHECK(in.good(), "tokenizer file '", path, "': cannot open it for reading");
  std::ostringstream ss;
  ss << in.rdbuf();
  try {
    return json::parse(ss.str());
  } catch (const json::parse_error& e) {
    MART_FAIL("tokenizer file '", path, "' is not valid JSON (at byte ", e.byte,
              "); is it truncated?");
  }
}

// GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others for U+0100 on.
struct ByteMap {
  char32_t to_char[256];
  std::unordered_map<char32_t, uint8_t> to_byte;
  ByteMap() {
    uint32_t n = 0;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
      to_char[b] = printable ? b : 256 + n++;
      to_byte[to_char[b]] = static_cast<uint8_t>(b);
    }
  }
};
const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

// A vocabulary entry written with the byte map -> its raw bytes; nullopt if a character is not
// in the map (then the vocabulary is not byte-level).
std::optional<std::string> unmap_token(std::string_view tok) {
  std::string out;
  for (size_t pos = 0; pos < tok.size();) {
    const CodePoint d = decode_utf8(tok, pos);
    const auto it = byte_map().to_byte.find(d.cp);
    if (it == byte_map().to_byte.end()) return std::nullopt;
    out.push_back(static_cast<char>(it->second));
    pos += d.len;
  }
  return out;
}

struct BpeModel {
  std::vector<std::optional<std::string>> id_bytes;  // id -> raw bytes (nullopt: unused id)
  std::unordered_map<std::string, uint32_t> bytes_id;
  std::unordered_map<uint64_t, std::pair<uint32_t, uint32_t>> merges;  // pair -> (rank, id)
  uint32_t byte_id[256] = {};
  std::vector<std::pair<std::string, uint32_t>> added;  // literal text -> id, longest first
  PreTokenizer pre = PreTokenizer::Gpt2;
  bool add_prefix_space = false;
  bool ignore_merges = false;
  std::optional<uint32_t> bos, eos;
  std::vector<std::string> files;
  std::string label;   // the file name for describe()
  std::string source;  // the file being read, for errors

  // Ids index a table: a corrupt file must not make it gigabytes (real vocabularies are < 1M).
  static constexpr uint32_t kMaxId = 1u << 24;
  void set_token(uint32_t id, std::string bytes) {
    MART_CHECK(id < kMaxId, "tokenizer file '", source, "': token id ", id, " is not below ",
               kMaxId, "; real vocabularies are far smaller -- is the file corrupt?");
    if (id >= id_bytes.size()) id_bytes.resize(size_t(id) + 1);
    bytes_id.emplace(bytes, id);
    id_bytes[id] = std::move(bytes);
  }
  void add_vocab(const std::string& file, const json& vocab) {
    MART_CHECK(vocab.is_object() && !vocab.empty(), "tokenizer file '", file,
               "': the vocabulary must be a non-empty JSON object of token -> id");
    for (const auto& [tok, id] : vocab.items()) {
      MART_CHECK(id.is_number_unsigned() && id.get<uint64_t>() < (1ull << 31), "tokenizer file '",
                 file, "': vocabulary entry '", tok, "' has id ", id.dump(),
                 "; ids must be integers in [0, 2^31)");
      auto bytes = unmap_token(tok);
      MART_CHECK(bytes.has_value(), "tokenizer file '", file, "': vocabulary entry '", tok,
                 "' is not written in GPT-2's byte-to-unicode alphabet; this is not a "
                 "byte-level BPE vocabulary");
      // Two tokens on one id would decode one of them as the other (a fuzzer found it).
      const uint32_t n = id.get<uint32_t>();
      MART_CHECK(n >= id_bytes.size() || !id_bytes[n] || *id_bytes[n] == *bytes, "tokenizer file '",
                 file, "': vocabulary entry '", tok, "' has id ", n,
                 ", which another entry already has; each id must name one token");
      set_token(n, std::move(*bytes));
    }
    for (uint32_t b = 0; b < 256; ++b) {
      const auto it = bytes_id.find(std::string(1, static_cast<char>(b)));
      MART_CHECK(it != bytes_id.end(), "tokenizer file '", file,
                 "': the vocabulary has no token for "
                 "byte ",
                 b, "; a byte-level BPE vocabulary needs all 256");
      byte_id[b] = it->second;
    }
  }
  // One merge "a b" (where = "line N" / "merge N", for errors).
  void add_merge(const std::string& file, const std::string& where, const std::string& a,
                 const std::string& b) {
    auto find = [&](const std::string& t) {
      auto bytes = unmap_token(t);
      const auto it = bytes ? bytes_id.find(*bytes) : bytes_id.end();
      MART_CHECK(it != bytes_id.end(), "tokenizer file '", file, "', ", where, ": merge '", a, " ",
                 b, "' uses '", t, "', which is not in the vocabulary");
      return it->second;
    };
    const uint32_t ia = find(a), ib = find(b), merged = find(a + b);
    const uint64_t key = (uint64_t(ia) << 32) | ib;
    merges.emplace(key, std::make_pair(static_cast<uint32_t>(merges.size()), merged));
  }
  void add_special(const std::string& content, uint32_t id) {
    MART_CHECK(id >= id_bytes.size() || !id_bytes[id] || *id_bytes[id] == content,
               "tokenizer file '", source, "': added token '", content, "' has id ", id,
               ", which the vocabulary gives to another token");
    set_token(id, content);
    added.emplace_back(content, id);
  }
  void finish() {
    std::stable_sort(added.begin(), added.end(),
                     [](const auto& x, const auto& y) { return x.first.size() > y.first.size(); });
  }
};

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(BpeModel m) : m_(std::move(m)) {}

  TokenizerKind kind() const override { return TokenizerKind::ByteLevelBpe; }
  uint32_t vocab_size() const override { return static_cast<uint32_t>(m_.id_bytes.size()); }

  std::vector<uint32_t> encode(std::string_view text) const override {
    std::vector<uint32_t> out;
    out.reserve(text.size() / 3 + 1);
    std::unordered_map<std::string, std::vector<uint32_t>> cache;  // per call: thread-safe
    // The next occurrence of each added token at or after pos (npos: none; kUnknown: not yet
    // searched), so each token's occurrences are searched for once per call.
    constexpr size_t kUnknown = std::string_view::npos - 1;
    std::vector<size_t> next(m_.added.size(), kUnknown);
    size_t pos = 0;
    while (pos < text.size()) {
      size_t best = text.size(), best_k = 0;
      for (size_t k = 0; k < m_.added.size(); ++k) {
        if (next[k] == kUnknown || (next[k] != std::string_view::npos && next[k] < pos))
          next[k] = text.find(m_.added[k].first, pos);
        if (next[k] < best) best = next[k], best_k = k;  // ties: the longer (sorted first)
      }
      encode_segment(text.substr(pos, best - pos), out, cache);
      if (best == text.size()) break;
      out.push_back(m_.added[best_k].second);
      pos = best + m_.added[best_k].first.size();
    }
    return out;
  }

  std::string decode(std::span<const uint32_t> ids) const override {
    std::string out;
    for (size_t i = 0; i < ids.size(); ++i) {
      MART_CHECK(ids[i] < m_.id_bytes.size() && m_.id_bytes[ids[i]].has_value(), "BPE tokenizer ",
                 m_.label, ": id ", ids[i], " at index ", i, " is not in the vocabulary (",
                 m_.id_bytes.size(), " ids); were these ids made by another tokenizer?");
      out += *m_.id_bytes[ids[i]];
    }
    return out;
  }
  std::optional<uint32_t> bos_id() const override { return m_.bos; }
  std::optional<uint32_t> eos_id() const override { return m_.eos; }
  std::vector<std::string> files() const override { return m_.files; }
  std::string describe() const override {
    return str("byte-level BPE ", m_.label, " (vocab ", vocab_size(), ", ",
               pretokenizer_name(m_.pre), " pre-tokenizer)");
  }

 private:
  void encode_segment(std::string_view seg, std::vector<uint32_t>& out,
                      std::unordered_map<std::string, std::vector<uint32_t>>& cache) const {
    if (seg.empty()) return;
    std::string prefixed;
    if (m_.add_prefix_space && seg.front() != ' ') {
      prefixed.reserve(seg.size() + 1);
      prefixed.push_back(' ');
      prefixed.append(seg);
      seg = prefixed;
    }
    pretokenize(m_.pre, seg, [&](std::string_view piece) {
      if (m_.ignore_merges) {
        const auto it = m_.bytes_id.find(std::string(piece));
        if (it != m_.bytes_id.end()) return out.push_back(it->second);
      }
      auto [it, fresh] = cache.try_emplace(std::string(piece));
      if (fresh) it->second = merge(piece);
      out.insert(out.end(), it->second.begin(), it->second.end());
    });
  }

  // Bytes -> ids: join the lowest-ranked adjacent pair, leftmost first, until none is a merge --
  // GPT-2's loop, run with a heap over a linked list so a long piece costs O(n log n), not O(n^2).
  std::vector<uint32_t> merge(std::string_view piece) const {
    const size_t n = piece.size();
    std::vector<uint32_t> id(n);
    std::vector<size_t> prev(n), next(n);  // neighbours; prev of the first / next of the last: n
    std::vector<char> alive(n, 1);
    for (size_t i = 0; i < n; ++i) {
      id[i] = m_.byte_id[static_cast<unsigned char>(piece[i])];
      prev[i] = i == 0 ? n : i - 1;
      next[i] = i + 1;
    }
    // (rank, position, left id, right id, merged id); stale entries are skipped when popped.
    using Cand = std::tuple<uint32_t, size_t, uint32_t, uint32_t, uint32_t>;
    std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
    auto push = [&](size_t i) {
      if (i >= n || next[i] >= n) return;
      const auto it = m_.merges.find((uint64_t(id[i]) << 32) | id[next[i]]);
      if (it != m_.merges.end())
        heap.emplace(it->second.first, i, id[i], id[next[i]], it->second.second);
    };
    for (size_t i = 0; i + 1 < n; ++i) push(i);
    while (!heap.empty()) {
      const auto [rank, i, left, right, merged] = heap.top();
      heap.pop();
      if (!alive[i] || next[i] >= n || id[i] != left || id[next[i]] != right) continue;
      const size_t j = next[i];
      id[i] = merged;
      alive[j] = 0;
      next[i] = next[j];
      if (next[j] < n) prev[next[j]] = i;
      push(prev[i]);
      push(i);
    }
    std::vector<uint32_t> out;
    for (size_t i = 0; i < n; i = next[i]) out.push_back(id[i]);
    return out;
  }

  BpeModel m_;
};

std::string token_text(const json& t) {  // "<s>" or {"content": "<s>", ...}
  if (t.is_string()) return t.get<std::string>();
  if (t.is_object() && t.contains("content") && t["content"].is_string()) return t["content"];
  return "";
}

// bos/eos from tokenizer_config.json beside the file, else from well-known token names.
void find_bos_eos(BpeModel& m, const fs::path& dir) {
  const fs::path cfg = dir / "tokenizer_config.json";
  auto id_of = [&](const std::string& s) -> std::optional<uint32_t> {
    const auto it = m.bytes_id.find(s);
    return it == m.bytes_id.end() ? std::nullopt : std::optional<uint32_t>(it->second);
  };
  std::error_code ec;
  if (fs::is_regular_file(cfg, ec)) {
    const json c = read_json(cfg.string());
    if (c.contains("bos_token")) m.bos = id_of(token_text(c["bos_token"]));
    if (c.contains("eos_token")) m.eos = id_of(token_text(c["eos_token"]));
    m.files.push_back(absolute_path(cfg.string()));
    if (m.bos || m.eos) return;
  }
  for (const char* b : {"<|begin_of_text|>", "<|endoftext|>", "<s>"})
    if (!m.bos) m.bos = id_of(b);
  for (const char* e : {"<|end_of_text|>", "<|endoftext|>", "</s>"})
    if (!m.eos) m.eos = id_of(e);
}

void read_merges_file(BpeModel& m, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  MART_CHECK(in.good(), "tokenizer file '", path,
             "': cannot open it for reading (GPT-2's "
             "vocab.bpe must sit beside encoder.json)");
  std::string line;
  for (size_t n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (n == 1 && line.starts_with("#version"))) continue;
    const size_t sp = line.find(' ');
    MART_CHECK(sp != std::string::npos && sp > 0 && line.find(' ', sp + 1) == std::string::npos &&
                   sp + 1 < line.size(),
               "tokenizer file '", path, "', line ", n, ": '", line,
               "' is not a merge of the form 'a b'");
    m.add_merge(path, str("line ", n), line.substr(0, sp), line.substr(sp + 1));
  }
}

// The pre-tokenizer of a tokenizer.json: ByteLevel (GPT-2 regex), or a Sequence of a Split with a
// known regex and a ByteLevel without regex. Anything else is refused, naming it.
void read_pre_tokenizer(BpeModel& m, const std::string& path, const json& pt) {
  MART_CHECK(pt.is_object() && pt.contains("type"), "tokenizer file '", path,
             "': pre_tokenizer is missing; byte-level BPE needs a ByteLevel pre-tokenizer");
  const std::string type = pt["type"].is_string() ? pt["type"].get<std::string>() : "";
  if (type == "ByteLevel") {
    m.add_prefix_space = pt.value("add_prefix_space", false);
    MART_CHECK(pt.value("use_regex", true), "tokenizer file '", path,
               "': a ByteLevel pre-tokenizer with use_regex false and no Split before it is not "
               "supported");
    m.pre = PreTokenizer::Gpt2;
    return;
  }
  MART_CHECK(type == "Sequence" && pt.contains("pretokenizers") && pt["pretokenizers"].is_array(),
             "tokenizer file '", path, "': pre_tokenizer type '", type,
             "' is not supported (supported: ByteLevel, or Sequence[Split, ByteLevel])");
  bool have_split = false, have_bytelevel = false;
  for (const json& p : pt["pretokenizers"]) {
    const std::string t = p.value("type", "");
    if (t == "Split") {
      const std::string pattern =
          p.contains("pattern") && p["pattern"].is_object() ? p["pattern"].value("Regex", "") : "";
      const auto known = pretokenizer_for_pattern(pattern);
      MART_CHECK(known.has_value(), "tokenizer file '", path, "': Split regex '", pattern,
                 "' is not one MART implements (GPT-2's and Llama-3's are)");
      MART_CHECK(p.value("behavior", "") == "Isolated" && !p.value("invert", false),
                 "tokenizer file '", path, "': Split behavior '", p.value("behavior", ""),
                 "' is not supported (Isolated, not inverted)");
      m.pre = *known;
      have_split = true;
    } else if (t == "ByteLevel") {
      MART_CHECK(!p.value("use_regex", true) && have_split, "tokenizer file '", path,
                 "': a ByteLevel with its own regex after a Split is not supported");
      m.add_prefix_space = p.value("add_prefix_space", false);
      have_bytelevel = true;
    } else {
      MART_FAIL("tokenizer file '", path, "': pre-tokenizer '", t,
                "' in the Sequence is not supported (Split with a known regex, ByteLevel)");
    }
  }
  MART_CHECK(have_split && have_bytelevel, "tokenizer file '", path,
             "': the pre-tokenizer Sequence needs a Split and a ByteLevel");
}

BpeModel hf_model(const std::string& path) {
  const json j = read_json(path);
  MART_CHECK(j.is_object() && j.contains("model") && j["model"].is_object(), "tokenizer file '",
             path, "' has no \"model\" object; is it a Hugging Face tokenizer.json?");
  const json& model = j["model"];
  const std::string type = model.value("type", "BPE");
  MART_CHECK(type == "BPE", "tokenizer file '", path, "': model.type '", type,
             "' is not supported (byte-level BPE only; SentencePiece models load from a "
             "tokenizer.model)");
  MART_CHECK(!j.contains("normalizer") || j["normalizer"].is_null(), "tokenizer file '", path,
             "': normalizer '", j["normalizer"].value("type", "?"),
             "' is not supported (byte-level BPE tokenizers have none)");
  BpeModel m;
  m.source = path;
  MART_CHECK(model.contains("vocab") && model.contains("merges") && model["merges"].is_array(),
             "tokenizer file '", path, "': model needs \"vocab\" and \"merges\"");
  m.add_vocab(path, model["vocab"]);
  size_t n = 0;
  for (const json& mg : model["merges"]) {
    ++n;
    std::string a, b;
    if (mg.is_string()) {
      const std::string s = mg;
      const size_t sp = s.find(' ');
      MART_CHECK(sp != std::string::npos, "tokenizer file '", path, "', merge ", n, ": '", s,
                 "' is not of the form 'a b'");
      a = s.substr(0, sp), b = s.substr(sp + 1);
    } else {
      MART_CHECK(mg.is_array() && mg.size() == 2 && mg[0].is_string() && mg[1].is_string(),
                 "tokenizer file '", path, "', merge ", n, ": expected \"a b\" or [\"a\", \"b\"]");
      a = mg[0], b = mg[1];
    }
    m.add_merge(path, str("merge ", n), a, b);
  }
  m.ignore_merges = model.value("ignore_merges", false);
  for (const char* affix : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const json& a = model.contains(affix) ? model[affix] : json();
    MART_CHECK(a.is_null() || (a.is_string() && a.get<std::string>().empty()), "tokenizer file '",
               path, "': model.", affix, " ", a.dump(),
               " is not supported (byte-level BPE uses none)");
  }
  read_pre_tokenizer(m, path, j.value("pre_tokenizer", json()));
  if (j.contains("added_tokens") && j["added_tokens"].is_array()) {
    for (const json& t : j["added_tokens"]) {
      MART_CHECK(t.contains("id") && t["id"].is_number_unsigned() && !token_text(t).empty(),
                 "tokenizer file '", path,
                 "': an added_tokens entry needs id and content: ", t.dump());
      m.add_special(token_text(t), t["id"]);
    }
  }
  return m;
}

}  // namespace

std::unique_ptr<Tokenizer> load_gpt2_bpe_tokenizer(const std::string& encoder_json,
                                                   const std::string& vocab_bpe) {
  BpeModel m;
  m.source = encoder_json;
  const json enc = read_json(encoder_json);
  m.add_vocab(encoder_json, enc);
  // GPT-2's <|endoftext|> sits in encoder.json; text that spells it encodes as its id.
  for (const auto& [tok, id] : enc.items())
    if (tok.size() > 4 && tok.starts_with("<|") && tok.ends_with("|>")) m.add_special(tok, id);
  read_merges_file(m, vocab_bpe);
  m.files = {absolute_path(encoder_json), absolute_path(vocab_bpe)};
  m.label = fs::path(encoder_json).filename().string();
  find_bos_eos(m, fs::path(encoder_json).parent_path());
  m.finish();
  return std::make_unique<BpeTokenizer>(std::move(m));
}

std::unique_ptr<Tokenizer> load_hf_bpe_tokenizer(const std::string& tokenizer_json) {
  BpeModel m;
  try {
    m = hf_model(tokenizer_json);
  } catch (const json::exception& e) {  // a field of the wrong type
    MART_FAIL("tokenizer file '", tokenizer_json, "': unexpected structure (", e.what(), ")");
  }
  m.files.insert(m.files.begin(), absolute_path(tokenizer_json));
  m.label = fs::path(tokenizer_json).filename().string();
  find_bos_eos(m, fs::path(tokenizer_json).parent_path());
  m.finish();
  return std::make_unique<BpeTokenizer>(std::move(m));
}

}  // namespace mart
