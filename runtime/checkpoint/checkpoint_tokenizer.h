// The tokenizer inside a checkpoint's model folder: the files of data.tokenizer are copied into
// RUN/checkpoints/step_N/model/ under the names transformers' from_pretrained and MART's
// load_tokenizer look for in a folder, so the model folder is self-contained (it still generates
// after the original tokenizer file was moved) and its bos/eos ids reach config.json.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "runtime/checkpoint/hf_checkpoint.h"

namespace mart {

class Tokenizer;

// Source path -> file name inside the model folder: a SentencePiece model becomes
// tokenizer.model; a Hugging Face byte-level BPE file becomes tokenizer.json; GPT-2's pair becomes
// encoder.json + vocab.bpe; a tokenizer_config.json beside it keeps its name. Empty for bytes.
std::vector<std::pair<std::string, std::string>> tokenizer_file_names(const Tokenizer& tok);

// Copies the files of the tokenizer `spec` names (data.tokenizer; "" or "byte": none) into DIR,
// each written atomically, and returns its bos/eos ids. Throws mart::Error naming the tokenizer
// and the file that cannot be read or written.
HfTokenIds copy_tokenizer_files(const std::string& spec, const std::string& dir);

}  // namespace mart
