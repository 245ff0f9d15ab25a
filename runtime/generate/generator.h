// Generation loops over a Decoder: token ids in and out (generate_tokens, what RLHF rollouts
// call), and text in and out with a tokenizer, stop strings and streaming (generate_text, what
// `mart generate` calls).
//
// With the cache (the default) the prompt runs once and each new token costs one position per
// layer. use_cache = false re-runs the whole sequence from position 0 every step: the same
// numbers the cache must reproduce, kept as a reference and a benchmark baseline.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/data/tokenizer.h"
#include "runtime/generate/decoder.h"
#include "runtime/generate/sampler.h"

namespace mart {

enum class StopReason { MaxTokens, Eos, StopString, ContextFull, Callback };
const char* stop_reason_name(StopReason r);

struct TokenLoopOptions {
  int max_new_tokens = 128;
  SamplingParams sampling;
  std::optional<int32_t> eos_id;  // ends generation when sampled (not returned)
  bool use_cache = true;
  // Called with each new token; return false to stop (StopReason::Callback).
  std::function<bool(int32_t)> on_token;
};

struct TokenResult {
  std::vector<int32_t> tokens;  // the new tokens (no prompt, no EOS)
  StopReason reason = StopReason::MaxTokens;
};

// Batch 1: the decoder must have been built for batch 1. prompt must be non-empty and at most
// decoder.max_len() tokens (mart::Error naming both lengths otherwise). The sequence grows to at
// most max_len + 1 tokens (the last sampled token needs no position), then ContextFull.
TokenResult generate_tokens(Decoder& dec, std::span<const int32_t> prompt,
                            const TokenLoopOptions& opt);

struct TextOptions {
  TokenLoopOptions tokens;        // on_token is taken over by generate_text
  std::vector<std::string> stop;  // generation ends at the first occurrence; text is cut before it
  std::function<void(std::string_view)> on_text;  // streamed pieces, valid UTF-8 where possible
};

struct TextResult {
  std::string text;  // the new text (stop string excluded)
  std::vector<int32_t> tokens;
  StopReason reason = StopReason::MaxTokens;
};

// EOS defaults to the tokenizer's when opt.tokens.eos_id is unset.
TextResult generate_text(Decoder& dec, const Tokenizer& tok, std::string_view prompt,
                         TextOptions opt);

// Bytes of `s` from `from` that can be printed now: stops before an incomplete UTF-8 sequence at
// the end (its remaining bytes may come with the next token). Exposed for tests.
size_t utf8_complete_end(std::string_view s, size_t from);

}  // namespace mart
