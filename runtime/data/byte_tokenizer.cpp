#include "runtime/data/byte_tokenizer.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

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

namespace prepare_detail {

// Refuses an output path that names a directory (`-o adir`, `-o adir/`): the shards are files,
// and writing adir.bin next to it would surprise.
void check_output_name(const std::string& out_path) {
  MART_CHECK(!out_path.empty(), "prepare_data: empty output path");
  std::error_code ec;
  const bool is_dir = std::filesystem::is_directory(out_path, ec);
  MART_CHECK(!is_dir && out_path.back() != '/', "prepare_data: output '", out_path,
             "' names a directory; give a shard file path inside it, e.g. '", out_path,
             out_path.back() == '/' ? "" : "/", "train.bin'");
}

// Refuses to replace the input text (the same file by any name: same device and inode), or a
// directory, with a shard.
void check_output_file(const std::string& path, const std::string& text_path,
                       const struct stat& text_st) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;  // does not exist yet: fine
  MART_CHECK(!(st.st_dev == text_st.st_dev && st.st_ino == text_st.st_ino),
             "prepare_data: output '", path, "' is the input text '", text_path,
             "' itself; writing it would destroy the input; choose another -o");
  MART_CHECK(S_ISREG(st.st_mode), "prepare_data: output '", path,
             "' exists and is not a regular file (a directory?); choose another -o");
}

// Creates the output's folder (data/ in data/tiny.bin) when it does not exist yet.
void make_parent_dir(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  MART_CHECK(!ec, "prepare_data: cannot create the output folder '", parent.string(),
             "': ", ec.message());
}

std::string shard_prefix(const std::string& out_path) {
  std::string prefix = out_path;
  if (prefix.size() > 4 && prefix.ends_with(".bin")) prefix.resize(prefix.size() - 4);
  return prefix;
}

}  // namespace prepare_detail

using namespace prepare_detail;

PreparedData prepare_data(const std::string& text_path, const std::string& out_path,
                          double val_fraction,
                          const std::function<void(uint64_t done, uint64_t total)>& progress) {
  MART_CHECK(val_fraction >= 0.0 && val_fraction < 1.0, "prepare_data: val_fraction ", val_fraction,
             " must be in [0, 1) (e.g. 0.1 holds out the last 10% for validation)");
  check_output_name(out_path);
  // MappedFile refuses a missing file, a FIFO, a device or a directory, naming the path.
  MappedFile text(text_path);
  struct stat text_st {};
  MART_CHECK(::stat(text_path.c_str(), &text_st) == 0, "prepare_data: cannot stat '", text_path,
             "': ", std::strerror(errno));
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

  const std::string prefix = shard_prefix(out_path);
  PreparedData out;
  const ByteTokenizer tok;
  check_output_file(prefix + ".bin", text_path, text_st);
  if (n_val > 0) check_output_file(prefix + "_val.bin", text_path, text_st);
  make_parent_dir(prefix + ".bin");
  out.train_path = prefix + ".bin";
  out.train_tokens = n_train;
  write_token_shard(out.train_path, tok.encode(all.substr(0, n_train)), TokenFormat::U16);
  if (progress) progress(n_train, all.size());
  if (n_val > 0) {
    out.val_path = prefix + "_val.bin";
    out.val_tokens = n_val;
    write_token_shard(out.val_path, tok.encode(all.substr(n_train)), TokenFormat::U16);
    if (progress) progress(all.size(), all.size());
  }
  return out;
}

}  // namespace mart
