#include "runtime/data/byte_tokenizer.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "io/mapped_file.h"

namespace mart {

std::vector<uint32_t> ByteTokenizer::encode(std::string_view text) const {
  std::vector<uint32_t> out(text.size());
  for (size_t i = 0; i < text.size(); ++i) out[i] = static_cast<unsigned char>(text[i]);
  return out;
}

std::string ByteTokenizer::decode(std::span<const uint32_t> tokens) const {
  std::string out(tokens.size(), '\0');
  for (size_t i = 0; i < tokens.size(); ++i) {
    MART_CHECK(tokens[i] < kVocabSize, "byte tokenizer: token ", tokens[i], " at index ", i,
               " is not a byte (vocab is 256); were these tokens made by another tokenizer?");
    out[i] = static_cast<char>(tokens[i]);
  }
  return out;
}

PreparedData prepare_data(const std::string& text_path, const std::string& out_path,
                          double val_fraction) {
  MART_CHECK(val_fraction >= 0.0 && val_fraction < 1.0, "prepare_data: val_fraction ", val_fraction,
             " must be in [0, 1) (e.g. 0.1 holds out the last 10% for validation)");
  MART_CHECK(!out_path.empty(), "prepare_data: empty output path");
  MappedFile text(text_path);  // throws naming the path if it is missing
  MART_CHECK(text.size() > 0, "prepare_data: input text '", text_path,
             "' is empty; nothing to tokenize");
  const std::string_view all(reinterpret_cast<const char*>(text.data()), text.size());

  uint64_t n_val = 0;
  if (val_fraction > 0) {
    n_val = static_cast<uint64_t>(std::llround(val_fraction * static_cast<double>(all.size())));
    n_val = std::max<uint64_t>(n_val, 1);
    MART_CHECK(n_val < all.size(), "prepare_data: input text '", text_path, "' has only ",
               all.size(), " bytes, too short to hold out ", val_fraction,
               " for validation and keep a train part; use more text or val_fraction 0");
  }
  const uint64_t n_train = all.size() - n_val;

  std::string prefix = out_path;
  if (prefix.size() > 4 && prefix.ends_with(".bin")) prefix.resize(prefix.size() - 4);
  PreparedData out;
  const ByteTokenizer tok;
  out.train_path = prefix + ".bin";
  out.train_tokens = n_train;
  write_token_shard(out.train_path, tok.encode(all.substr(0, n_train)), TokenFormat::U16);
  if (n_val > 0) {
    out.val_path = prefix + "_val.bin";
    out.val_tokens = n_val;
    write_token_shard(out.val_path, tok.encode(all.substr(n_train)), TokenFormat::U16);
  }
  return out;
}

}  // namespace mart
