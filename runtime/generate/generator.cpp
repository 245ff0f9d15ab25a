#include "runtime/generate/generator.h"

#include <algorithm>

#include "common/error.h"

namespace mart {

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::MaxTokens:
      return "max tokens";
    case StopReason::Eos:
      return "end of sequence";
    case StopReason::StopString:
      return "stop string";
    case StopReason::ContextFull:
      return "context full";
    case StopReason::Callback:
      return "stopped by caller";
  }
  return "?";
}

TokenResult generate_tokens(Decoder& dec, std::span<const int32_t> prompt,
                            const TokenLoopOptions& opt) {
  MART_CHECK(dec.batch() == 1, "generate_tokens runs one sequence; the decoder has batch ",
             dec.batch());
  MART_CHECK(!prompt.empty(), "the prompt is empty: give at least one token");
  MART_CHECK(static_cast<int>(prompt.size()) <= dec.max_len(), "the prompt is ", prompt.size(),
             " tokens but the model's context holds ", dec.max_len(),
             " positions; shorten the prompt");
  MART_CHECK(opt.max_new_tokens >= 0, "max new tokens ", opt.max_new_tokens, " must be >= 0");
  Sampler sampler(opt.sampling);
  std::vector<int32_t> seq(prompt.begin(), prompt.end());
  std::vector<float> logits;
  TokenResult r;
  int fed = 0;  // positions already in the cache
  while (true) {
    if (static_cast<int>(r.tokens.size()) >= opt.max_new_tokens) {
      r.reason = StopReason::MaxTokens;
      break;
    }
    if (opt.use_cache) {
      const int n = static_cast<int>(seq.size()) - fed;
      dec.forward(std::span<const int32_t>(seq).subspan(fed), n, fed, &logits);
    } else {
      dec.forward(seq, static_cast<int>(seq.size()), 0, &logits);
    }
    fed = static_cast<int>(seq.size());
    const int32_t next = sampler.sample(logits.data(), static_cast<int>(logits.size()));
    if (opt.eos_id && next == *opt.eos_id) {
      r.reason = StopReason::Eos;
      break;
    }
    r.tokens.push_back(next);
    seq.push_back(next);
    if (opt.on_token && !opt.on_token(next)) {
      r.reason = StopReason::Callback;
      break;
    }
    if (static_cast<int>(seq.size()) > dec.max_len() &&
        static_cast<int>(r.tokens.size()) < opt.max_new_tokens) {
      // Every position is used: the next token's logits would need position max_len.
      r.reason = StopReason::ContextFull;
      break;
    }
  }
  return r;
}

size_t utf8_complete_end(std::string_view s, size_t from) {
  // Walk back over at most 3 continuation bytes to the last lead byte; hold it back if its
  // sequence is not complete yet.
  size_t i = s.size(), back = 0;
  while (i > from && back < 3 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) --i, ++back;
  if (i == from) return s.size();
  const auto lead = static_cast<unsigned char>(s[i - 1]);
  const size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  return need > back + 1 && lead >= 0xC0 ? i - 1 : s.size();
}

namespace {

// Longest suffix of text[0, end) that is a proper prefix of a stop string: held back from the
// stream in case the next token completes the stop string.
size_t stop_prefix_hold(std::string_view text, size_t from, size_t end,
                        const std::vector<std::string>& stop) {
  size_t hold = 0;
  for (const std::string& s : stop)
    for (size_t len = std::min(s.size() - 1, end - from); len > hold; --len)
      if (text.substr(end - len, len) == std::string_view(s).substr(0, len)) {
        hold = len;
        break;
      }
  return hold;
}

}  // namespace

TextResult generate_text(Decoder& dec, const Tokenizer& tok, std::string_view prompt,
                         TextOptions opt) {
  for (const std::string& s : opt.stop)
    MART_CHECK(!s.empty(), "a stop string is empty; give --stop a non-empty text");
  const std::vector<uint32_t> ids = tok.encode(prompt);
  std::vector<uint32_t> all(ids.begin(), ids.end());
  const std::string base = tok.decode(all);
  std::vector<int32_t> prompt_ids(ids.begin(), ids.end());
  if (!opt.tokens.eos_id) {
    if (auto e = tok.eos_id()) opt.tokens.eos_id = static_cast<int32_t>(*e);
  }
  TextResult r;
  size_t printed = 0;  // bytes of the new text already streamed
  bool stopped = false;
  auto emit = [&](size_t end) {
    if (end > printed && opt.on_text)
      opt.on_text(std::string_view(r.text).substr(printed, end - printed));
    printed = std::max(printed, end);
  };
  opt.tokens.on_token = [&](int32_t t) {
    all.push_back(static_cast<uint32_t>(t));
    const std::string full = tok.decode(all);
    // The new text is what decoding the whole sequence adds to the prompt's text (a tokenizer
    // may render a token differently at the start of a sequence, so decode it in context).
    r.text = full.compare(0, base.size(), base) == 0
                 ? full.substr(base.size())
                 : tok.decode(std::span<const uint32_t>(all).subspan(ids.size()));
    for (const std::string& s : opt.stop) {
      const size_t at = r.text.find(s);
      if (at != std::string::npos) {
        r.text.resize(at);
        stopped = true;
      }
    }
    if (stopped) return false;
    const size_t end = utf8_complete_end(r.text, printed);
    emit(end - stop_prefix_hold(r.text, printed, end, opt.stop));
    return true;
  };
  TokenResult tr = generate_tokens(dec, prompt_ids, opt.tokens);
  r.tokens = std::move(tr.tokens);
  r.reason = stopped ? StopReason::StopString : tr.reason;
  emit(r.text.size());  // the rest, complete or not
  return r;
}

}  // namespace mart
