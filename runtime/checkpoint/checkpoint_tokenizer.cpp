#include "runtime/checkpoint/checkpoint_tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>

#include "common/error.h"
#include "io/atomic_file.h"
#include "runtime/checkpoint/checkpoint_fs.h"
#include "runtime/data/tokenizer.h"

namespace mart {

namespace {

std::string base_name(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

// The name a tokenizer's main file gets, by what it is (its own name may be anything: "spm.model").
std::string main_name(const Tokenizer& tok, const std::vector<std::string>& files) {
  if (tok.kind() == TokenizerKind::SentencePiece) return "tokenizer.model";
  const bool gpt2_pair = std::any_of(files.begin(), files.end(),
                                     [](const std::string& f) { return f.ends_with(".bpe"); });
  return gpt2_pair ? "encoder.json" : "tokenizer.json";
}

}  // namespace

std::vector<std::pair<std::string, std::string>> tokenizer_file_names(const Tokenizer& tok) {
  const std::vector<std::string> files = tok.files();
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < files.size(); ++i) {
    std::string name = base_name(files[i]);
    if (i == 0)
      name = main_name(tok, files);
    else if (name.ends_with(".bpe"))
      name = "vocab.bpe";
    out.emplace_back(files[i], name);
  }
  std::set<std::string> seen;
  for (const auto& [from, to] : out)
    MART_CHECK(seen.insert(to).second, "tokenizer ", tok.describe(), ": two of its files would be ",
               "copied to the same name '", to, "' in the checkpoint's model folder");
  return out;
}

HfTokenIds copy_tokenizer_files(const std::string& spec, const std::string& dir) {
  const std::unique_ptr<Tokenizer> tok = load_tokenizer(spec);
  for (const auto& [from, to] : tokenizer_file_names(*tok)) {
    // Large tokenizer.json files are a few tens of MB; 1 GiB only guards against a wrong file.
    const std::string text = ckpt_fs::read_small_file(from, "tokenizer file", uint64_t{1} << 30);
    write_file_atomic(dir + "/" + to, text.data(), text.size());
  }
  return {tok->bos_id(), tok->eos_id()};
}

}  // namespace mart
