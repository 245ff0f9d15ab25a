// `mart prepare-data --tokenizer`: streams a text file through any Tokenizer into llm.c shards.
// The text is memory-mapped and encoded in chunks of about chunk_bytes, each cut just after a
// newline where cutting cannot change the encoding (see next_chunk_end), so memory stays bounded
// and the ids equal those of encoding each part whole. Shards are uint16 when the vocabulary fits
// (<= 65536 ids, llm.c v1), else uint32 (llm.c v7), written atomically.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "runtime/data/byte_tokenizer.h"
#include "runtime/data/tokenizer.h"

namespace mart {

struct PrepareOptions {
  double val_fraction = 0.1;  // the last fraction of the text, from a line start, is validation
  // Target chunk size; a chunk ends at the next safe cut after it. Small on purpose: SentencePiece
  // encodes 64 KiB pieces ~3x faster per byte than one 1 MiB text.
  size_t chunk_bytes = 64u << 10;
  // Called after each chunk with the bytes of input done so far and the total.
  std::function<void(uint64_t done, uint64_t total)> progress;
};

// Writes PREFIX.bin (train) and PREFIX_val.bin (validation, when val_fraction > 0), PREFIX being
// out_path without ".bin". The split: the byte offset (1 - val_fraction) * size moved forward to
// the next line start (back to the previous one if none follows; a UTF-8 character boundary when
// the text has no newline). Throws mart::Error as prepare_data does (missing/empty input, output
// that is a directory or the input itself, text too short to split), and for more than INT32_MAX
// tokens in a shard.
PreparedData prepare_data_with_tokenizer(const std::string& text_path, const std::string& out_path,
                                         const Tokenizer& tok, const PrepareOptions& opt);

// The end of the chunk that starts at `begin`: the first safe cut at or after begin + target, or
// text.size() when none is left. A cut at i is safe when text[i-1] is '\n', text[i-2] is a
// printable ASCII character and text[i] is ASCII and not white space: then no pre-tokenizer
// piece (GPT-2, Llama-3) and no SentencePiece piece spans it, and no white-space run changes.
// With space_cuts (byte-level BPE only), text with no such newline (CRLF line ends, one long
// line) is cut after 16 targets at a single space between two ASCII letters ("word| word"):
// pre-tokenizer pieces never span that. Not for SentencePiece, whose models may strip a leading
// space (remove_extra_whitespaces).
size_t next_chunk_end(std::string_view text, size_t begin, size_t target, bool space_cuts = false);

// The byte offset where validation starts (see prepare_data_with_tokenizer); 0 < result < size.
size_t validation_start(std::string_view text, double val_fraction, const std::string& text_path);

}  // namespace mart
