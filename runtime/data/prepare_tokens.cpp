#include "runtime/data/prepare_tokens.h"

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "common/error.h"
#include "io/atomic_file.h"
#include "io/mapped_file.h"
#include "runtime/data/token_shard.h"

namespace mart {

namespace {

using namespace prepare_detail;

// Tokens streamed to a scratch file beside the shard; finish() writes the shard atomically
// (header with the final count, then the tokens) and removes the scratch file.
class ShardStream {
 public:
  ShardStream(std::string path, TokenFormat f)
      : path_(std::move(path)), tmp_(path_ + ".tokens." + std::to_string(::getpid())), format_(f) {
    file_ = std::fopen(tmp_.c_str(), "wb");
    MART_CHECK(file_, "prepare-data: cannot create '", tmp_, "': ", std::strerror(errno));
  }
  ~ShardStream() {
    if (file_) std::fclose(file_);
    std::remove(tmp_.c_str());
  }
  void append(const std::vector<uint32_t>& ids) {
    buf_.clear();
    const size_t w = token_bytes(format_);
    for (uint32_t id : ids)
      for (size_t b = 0; b < w; ++b) buf_.push_back(static_cast<unsigned char>(id >> (8 * b)));
    MART_CHECK(std::fwrite(buf_.data(), 1, buf_.size(), file_) == buf_.size(),
               "prepare-data: writing '", tmp_, "' failed: ", std::strerror(errno),
               " (disk full?)");
    count_ += ids.size();
    MART_CHECK(count_ <= uint64_t(INT32_MAX), "prepare-data: shard '", path_,
               "' would hold more "
               "than ",
               INT32_MAX,
               " tokens (the llm.c header's count is int32); split the text "
               "into several files and prepare each");
  }
  uint64_t finish() {
    MART_CHECK(std::fclose(file_) == 0, "prepare-data: writing '", tmp_,
               "' failed: ", std::strerror(errno));
    file_ = nullptr;
    MappedFile tokens(tmp_);
    write_file_atomic(path_, [&](FileSink& sink) {
      int32_t header[kShardHeaderInts] = {};
      header[0] = format_ == TokenFormat::U16 ? kShardMagicU16 : kShardMagicU32;
      header[1] = format_ == TokenFormat::U16 ? kShardVersionU16 : kShardVersionU32;
      header[2] = static_cast<int32_t>(count_);
      sink.write(header, sizeof(header));  // little-endian host (x86-64, aarch64)
      if (tokens.size() > 0) sink.write(tokens.data(), tokens.size());
    });
    return count_;
  }

 private:
  std::string path_, tmp_;
  TokenFormat format_;
  std::FILE* file_ = nullptr;
  std::vector<unsigned char> buf_;
  uint64_t count_ = 0;
};

bool ascii_letter(char c) {
  return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

bool printable_ascii(char c) {
  return c > ' ' && c < 0x7F;
}

// Encodes text[begin, end) chunk by chunk into `out`, reporting progress in input bytes.
void encode_part(std::string_view text, size_t begin, size_t end, const Tokenizer& tok,
                 const PrepareOptions& opt, ShardStream& out) {
  const std::string_view part = text.substr(begin, end - begin);
  for (size_t pos = 0; pos < part.size();) {
    const size_t stop =
        next_chunk_end(part, pos, opt.chunk_bytes, tok.kind() == TokenizerKind::ByteLevelBpe);
    const std::string_view chunk = part.substr(pos, stop - pos);
    out.append(pos == 0 ? tok.encode(chunk) : tok.encode_continuation(chunk));
    pos = stop;
    if (opt.progress) opt.progress(begin + pos, text.size());
  }
}

}  // namespace

size_t next_chunk_end(std::string_view text, size_t begin, size_t target, bool space_cuts) {
  const size_t min_end = begin + std::max<size_t>(target, 2);
  const size_t space_after = min_end + 16 * std::max<size_t>(target, 2);
  size_t space_cut = text.size();
  for (size_t i = std::max(min_end, begin + 2); i < text.size(); ++i) {
    const unsigned char next = static_cast<unsigned char>(text[i]);
    if (text[i - 1] == '\n' && printable_ascii(text[i - 2]) && next < 0x80 && next > ' ') return i;
    if (space_cuts && space_cut == text.size() && next == ' ' && i + 1 < text.size() &&
        ascii_letter(text[i - 1]) && ascii_letter(text[i + 1]))
      space_cut = i;
    if (i >= space_after && space_cut < text.size()) return space_cut;
  }
  return space_cut;
}

size_t validation_start(std::string_view text, double val_fraction, const std::string& text_path) {
  const size_t n = text.size();
  const auto n_val = std::max<uint64_t>(
      1, static_cast<uint64_t>(std::llround(val_fraction * static_cast<double>(n))));
  MART_CHECK(n_val < n, "prepare_data: input text '", text_path, "' has only ", n,
             " bytes, too short to hold out ", val_fraction,
             " for validation; use more text or "
             "val_fraction 0");
  size_t cut = n - n_val;
  const size_t after = text.find('\n', cut - 1);  // the line that holds byte cut-1 ends here
  if (after != std::string_view::npos && after + 1 < n) return after + 1;
  const size_t before = cut >= 2 ? text.rfind('\n', cut - 2) : std::string_view::npos;
  if (before != std::string_view::npos) return before + 1;
  while (cut < n && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) ++cut;  // mid-char
  MART_CHECK(cut > 0 && cut < n, "prepare_data: input text '", text_path,
             "' cannot be split into a train and a validation part at a character boundary; "
             "use more text or val_fraction 0");
  return cut;
}

PreparedData prepare_data_with_tokenizer(const std::string& text_path, const std::string& out_path,
                                         const Tokenizer& tok, const PrepareOptions& opt) {
  MART_CHECK(opt.val_fraction >= 0.0 && opt.val_fraction < 1.0, "prepare_data: val_fraction ",
             opt.val_fraction,
             " must be in [0, 1) (e.g. 0.1 holds out the last 10% for "
             "validation)");
  check_output_name(out_path);
  MappedFile file(text_path);  // refuses a missing file, FIFO, device or directory
  struct stat text_st {};
  MART_CHECK(::stat(text_path.c_str(), &text_st) == 0, "prepare_data: cannot stat '", text_path,
             "': ", std::strerror(errno));
  MART_CHECK(file.size() > 0, "prepare_data: input text '", text_path,
             "' is empty; nothing to tokenize");
  const std::string_view text(reinterpret_cast<const char*>(file.data()), file.size());
  const size_t val_begin =
      opt.val_fraction > 0 ? validation_start(text, opt.val_fraction, text_path) : text.size();

  const std::string prefix = shard_prefix(out_path);
  PreparedData out;
  out.format = tok.vocab_size() <= 65536 ? TokenFormat::U16 : TokenFormat::U32;
  out.train_path = prefix + ".bin";
  check_output_file(out.train_path, text_path, text_st);
  if (val_begin < text.size()) {
    out.val_path = prefix + "_val.bin";
    check_output_file(out.val_path, text_path, text_st);
  }
  make_parent_dir(out.train_path);
  {
    ShardStream train(out.train_path, out.format);
    encode_part(text, 0, val_begin, tok, opt, train);
    out.train_tokens = train.finish();
  }
  if (!out.val_path.empty()) {
    ShardStream val(out.val_path, out.format);
    encode_part(text, val_begin, text.size(), tok, opt, val);
    out.val_tokens = val.finish();
  }
  return out;
}

}  // namespace mart
