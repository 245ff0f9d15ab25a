// Fuzz target: the Hugging Face tokenizer.json reader (runtime/data/bpe_tokenizer.h). The input is
// the whole file. A file that loads must round-trip text: byte-level BPE covers every byte, so
// decode(encode(s)) == s for any s (up to the spaces add_prefix_space adds), including invalid
// UTF-8 and the added tokens' text.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "runtime/data/bpe_tokenizer.h"
#include "tests/fuzz/targets/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static mart::fuzz::ScratchFile scratch("tokenizer-json");
  const std::string& path = scratch.write(data, size);
  mart::fuzz::expect_only_mart_errors([&] {
    const auto tok = mart::load_hf_bpe_tokenizer(path);
    const std::string samples[] = {
        "Hello world, it's 2024!\n\n  x", "\xff\xfe bad utf-8 \xe2\x82", "<|endoftext|>ab<s>",
        std::string(reinterpret_cast<const char*>(data), size < 64 ? size : 64)};
    for (const std::string& s : samples) {
      const auto ids = tok->encode(s);
      for (uint32_t id : ids)
        if (id >= tok->vocab_size()) {
          std::fprintf(stderr, "FUZZ FINDING: id %u >= vocab_size %u\n", id, tok->vocab_size());
          std::abort();
        }
      // add_prefix_space puts a space before each segment: compare without spaces.
      auto no_spaces = [](std::string x) { return std::erase(x, ' '), x; };
      if (no_spaces(tok->decode(ids)) != no_spaces(s)) {
        std::fprintf(stderr, "FUZZ FINDING: decode(encode(s)) != s\n");
        std::abort();
      }
    }
  });
  return 0;
}
