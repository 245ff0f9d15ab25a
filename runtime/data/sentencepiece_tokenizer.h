// SentencePiece models (Llama-2 style tokenizer.model, or one made by `mart train-tokenizer`)
// through Debian's libsentencepiece. bos/eos come from the model itself.
#pragma once
#include <memory>
#include <string>

#include "runtime/data/tokenizer.h"

namespace mart {

// Throws mart::Error naming `path` when it cannot be read or is not a SentencePiece model.
std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const std::string& path);

// A copy of the serialized ModelProto `model` with normalizer_spec.add_dummy_prefix set to false
// (a field appended to the spec: in protobuf the last value of a scalar wins). Exposed for tests.
std::string sentencepiece_without_dummy_prefix(const std::string& model);

}  // namespace mart
