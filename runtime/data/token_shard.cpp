#include "runtime/data/token_shard.h"

#include <algorithm>
#include <cstring>

#include "common/error.h"
#include "io/atomic_file.h"

namespace mart {

namespace {

int32_t load_i32_le(const std::byte* p) {
  uint32_t u = 0;
  for (int i = 3; i >= 0; --i) u = (u << 8) | static_cast<uint32_t>(p[i]);
  return static_cast<int32_t>(u);
}

uint32_t load_token(const std::byte* p, TokenFormat f) {
  if (f == TokenFormat::U16) return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8;
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

const char* format_name(TokenFormat f) {
  return f == TokenFormat::U16 ? "uint16 (GPT-2, magic 20240520 v1)"
                               : "uint32 (Llama-3, magic 20240801 v7)";
}

// Validates the header of a mapped shard against its size; shared by read_shard_info and
// TokenShard so both report identical errors.
ShardInfo parse_header(const std::byte* data, uint64_t size, const std::string& path) {
  MART_CHECK(size >= kShardHeaderBytes, "token shard '", path, "': file has ", size,
             " bytes, less than the ", kShardHeaderBytes,
             "-byte header; the file is truncated or not an llm.c shard");
  const int32_t magic = load_i32_le(data), version = load_i32_le(data + 4),
                count = load_i32_le(data + 8);
  ShardInfo info;
  if (magic == kShardMagicU16) {
    MART_CHECK(version == kShardVersionU16, "token shard '", path, "': magic ", magic,
               " (uint16 GPT-2 tokens) with version ", version, "; expected version ",
               kShardVersionU16);
    info.format = TokenFormat::U16;
  } else if (magic == kShardMagicU32) {
    MART_CHECK(version == kShardVersionU32, "token shard '", path, "': magic ", magic,
               " (uint32 Llama-3 tokens) with version ", version, "; expected version ",
               kShardVersionU32);
    info.format = TokenFormat::U32;
  } else {
    MART_FAIL("token shard '", path, "': unknown header magic ", magic, " version ", version,
              "; expected magic ", kShardMagicU16, " version ", kShardVersionU16,
              " (uint16 GPT-2 tokens) or magic ", kShardMagicU32, " version ", kShardVersionU32,
              " (uint32 Llama-3 tokens) -- is this an llm.c .bin shard?");
  }
  MART_CHECK(count >= 0, "token shard '", path, "': negative token count ", count,
             " in the header; the header is corrupt");
  info.num_tokens = static_cast<uint64_t>(count);
  const uint64_t expected = kShardHeaderBytes + info.num_tokens * token_bytes(info.format);
  MART_CHECK(size >= expected, "token shard '", path, "': header says ", info.num_tokens, " ",
             format_name(info.format), " tokens, so expected ", expected,
             " bytes, but the file has only ", size,
             " bytes; the file is truncated -- regenerate it");
  MART_CHECK(size == expected, "token shard '", path, "': header says ", info.num_tokens, " ",
             format_name(info.format), " tokens, so expected ", expected,
             " bytes, but the file has ", size, " bytes (", size - expected,
             " trailing bytes); the header count is wrong");
  return info;
}

}  // namespace

void write_token_shard(const std::string& path, std::span<const uint32_t> tokens,
                       TokenFormat format) {
  MART_CHECK(tokens.size() <= static_cast<uint64_t>(INT32_MAX), "token shard '", path,
             "': ", tokens.size(), " tokens exceed the int32 count field (max ", INT32_MAX,
             "); split the data into several shards");
  if (format == TokenFormat::U16) {
    for (size_t i = 0; i < tokens.size(); ++i)
      MART_CHECK(tokens[i] <= 0xffffu, "token shard '", path, "': token ", tokens[i], " at index ",
                 i, " does not fit uint16; use TokenFormat::U32 (Llama-3 shards)");
  }
  std::byte header[kShardHeaderBytes] = {};
  const int32_t fields[3] = {format == TokenFormat::U16 ? kShardMagicU16 : kShardMagicU32,
                             format == TokenFormat::U16 ? kShardVersionU16 : kShardVersionU32,
                             static_cast<int32_t>(tokens.size())};
  for (int f = 0; f < 3; ++f)
    for (int b = 0; b < 4; ++b)
      header[4 * f + b] =
          static_cast<std::byte>((static_cast<uint32_t>(fields[f]) >> (8 * b)) & 0xff);

  write_file_atomic(path, [&](FileSink& sink) {
    sink.write(header, sizeof(header));
    // Encode little-endian in bounded chunks: no full-size copy of a multi-GB token array.
    const size_t width = token_bytes(format);
    std::vector<unsigned char> buf;
    constexpr size_t kChunk = 1 << 16;
    for (size_t start = 0; start < tokens.size(); start += kChunk) {
      const size_t n = std::min(kChunk, tokens.size() - start);
      buf.resize(n * width);
      for (size_t i = 0; i < n; ++i)
        for (size_t b = 0; b < width; ++b)
          buf[i * width + b] = static_cast<unsigned char>((tokens[start + i] >> (8 * b)) & 0xff);
      sink.write(buf.data(), buf.size());
    }
  });
}

ShardInfo read_shard_info(const std::string& path) {
  // Mapping costs no I/O beyond the header page we touch, and reuses MappedFile's error paths.
  MappedFile file(path);
  return parse_header(file.data(), file.size(), path);
}

TokenShard::TokenShard(const std::string& path, uint32_t vocab_size) : file_(path) {
  info_ = parse_header(file_.data(), file_.size(), path);
  MART_CHECK(vocab_size > 0 && vocab_size <= static_cast<uint32_t>(INT32_MAX), "token shard '",
             path, "': vocab_size ", vocab_size,
             " must be in [1, 2^31) (tokens are read as int32)");
  const std::byte* p = file_.data() + kShardHeaderBytes;
  const uint64_t w = token_bytes(info_.format);
  for (uint64_t i = 0; i < info_.num_tokens; ++i) {
    const uint32_t t = load_token(p + i * w, info_.format);
    MART_CHECK(t < vocab_size, "token shard '", path, "': token ", t, " at index ", i,
               " is >= the vocab size ", vocab_size,
               "; the shard was made with a different tokenizer (check model.vocab_size)");
  }
}

uint32_t TokenShard::operator[](uint64_t i) const {
  MART_CHECK(i < info_.num_tokens, "token shard '", path(), "': index ", i, " out of range (",
             info_.num_tokens, " tokens)");
  return load_token(file_.data() + kShardHeaderBytes + i * token_bytes(info_.format), info_.format);
}

void TokenShard::copy_to(uint64_t begin, std::span<int32_t> out) const {
  MART_CHECK(begin <= info_.num_tokens && out.size() <= info_.num_tokens - begin, "token shard '",
             path(), "': range [", begin, ", ", begin + out.size(), ") runs past its ",
             info_.num_tokens, " tokens");
  const std::byte* p = file_.data() + kShardHeaderBytes;
  const uint64_t w = token_bytes(info_.format);
  // Tokens were checked < vocab_size (an int) at open, so the int32 cast is lossless.
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<int32_t>(load_token(p + (begin + i) * w, info_.format));
}

std::vector<uint32_t> TokenShard::tokens() const {
  std::vector<uint32_t> out(info_.num_tokens);
  const std::byte* p = file_.data() + kShardHeaderBytes;
  const uint64_t w = token_bytes(info_.format);
  for (uint64_t i = 0; i < info_.num_tokens; ++i) out[i] = load_token(p + i * w, info_.format);
  return out;
}

}  // namespace mart
