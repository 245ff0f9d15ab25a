// llm.c token shards: a 1024-byte header of 256 little-endian int32 -- [0] magic, [1] version,
// [2] token count, rest zero -- followed by the tokens. Two variants:
//   magic 20240520, version 1: uint16 tokens (GPT-2 tokenizer, vocab <= 65536)
//   magic 20240801, version 7: uint32 tokens (Llama-3 tokenizer)
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "io/mapped_file.h"

namespace mart {

enum class TokenFormat { U16, U32 };

constexpr int32_t kShardMagicU16 = 20240520;
constexpr int32_t kShardVersionU16 = 1;
constexpr int32_t kShardMagicU32 = 20240801;
constexpr int32_t kShardVersionU32 = 7;
constexpr uint64_t kShardHeaderInts = 256;
constexpr uint64_t kShardHeaderBytes = kShardHeaderInts * 4;

constexpr uint64_t token_bytes(TokenFormat f) {
  return f == TokenFormat::U16 ? 2 : 4;
}

struct ShardInfo {
  TokenFormat format = TokenFormat::U16;
  uint64_t num_tokens = 0;
};

// Writes a shard atomically (write_file_atomic). Throws mart::Error when a token does not fit
// the format (U16: > 65535, naming the first such token and its index) or there are more than
// INT32_MAX tokens (the header's count field is int32).
void write_token_shard(const std::string& path, std::span<const uint32_t> tokens,
                       TokenFormat format);

// Reads and validates only the header and the file size -- cheap enough to run over every shard
// of a dataset up front. Throws mart::Error naming the path for a missing file, an unknown
// magic/version (saying what was found and what is expected), or a size that does not match the
// token count (stating expected vs actual bytes).
ShardInfo read_shard_info(const std::string& path);

// A validated, memory-mapped shard. Opening checks the header (as read_shard_info) and that every
// token is < vocab_size, naming the first bad token and its index -- a shard made with a different
// tokenizer would otherwise index past the embedding table.
class TokenShard {
 public:
  TokenShard(const std::string& path, uint32_t vocab_size);

  const std::string& path() const { return file_.path(); }
  TokenFormat format() const { return info_.format; }
  uint64_t size() const { return info_.num_tokens; }
  uint32_t operator[](uint64_t i) const;
  // Copies tokens [begin, begin + out.size()) widened to int32. Throws if the range runs past the
  // end of the shard.
  void copy_to(uint64_t begin, std::span<int32_t> out) const;
  std::vector<uint32_t> tokens() const;

 private:
  MappedFile file_;
  ShardInfo info_;
};

}  // namespace mart
