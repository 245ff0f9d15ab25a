// `mart train-tokenizer`: a SentencePiece BPE or unigram model trained on the user's text with
// Llama-2-like settings (byte fallback, digits split, no normalisation, whitespace kept as is,
// unk/bos/eos = 0/1/2). Training reads every line of the text in order, in one thread, so the same
// text and options give the same model file byte for byte.
#pragma once
#include <cstdint>
#include <string>

namespace mart {

struct TrainTokenizerOptions {
  std::string text_path;
  std::string out_path;  // the .model file to write (atomically); its folder is created
  uint32_t vocab_size = 8000;
  std::string type = "bpe";  // "bpe" | "unigram"
};

struct TrainedTokenizer {
  std::string path;
  uint32_t vocab_size = 0;
};

// Throws mart::Error naming the input for a missing or empty text, a bad type, and a vocabulary
// the text cannot fill (SentencePiece's own bound is quoted).
TrainedTokenizer train_sentencepiece(const TrainTokenizerOptions& opt);

}  // namespace mart
