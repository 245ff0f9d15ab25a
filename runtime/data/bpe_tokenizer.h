// Byte-level BPE (GPT-2 / Llama-3 style): text is split by a pre-tokenizer regex, each piece's
// UTF-8 bytes start as single-byte tokens, and the ranked merges join adjacent tokens, lowest rank
// first. Two file layouts:
//   - GPT-2's encoder.json (token -> id, bytes written with GPT-2's byte-to-unicode map) plus
//     vocab.bpe (one merge "a b" per line, rank = line order) beside it;
//   - a Hugging Face tokenizer.json with model.type "BPE" and a ByteLevel pre-tokenizer, or a
//     Sequence of a Split with a known regex (GPT-2's, Llama-3's) and a ByteLevel without regex.
// Added/special tokens (tokenizer.json added_tokens; "<|endoftext|>"-style entries of
// encoder.json) are matched literally in the text and encode as their ids.
#pragma once
#include <memory>
#include <string>

#include "runtime/data/tokenizer.h"

namespace mart {

// Throws mart::Error naming the file (and the key or line) for a malformed or unsupported file.
std::unique_ptr<Tokenizer> load_gpt2_bpe_tokenizer(const std::string& encoder_json,
                                                   const std::string& vocab_bpe);
std::unique_ptr<Tokenizer> load_hf_bpe_tokenizer(const std::string& tokenizer_json);

}  // namespace mart
