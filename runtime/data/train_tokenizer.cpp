#include "runtime/data/train_tokenizer.h"

#include <sentencepiece_trainer.h>

#include <filesystem>
#include <unordered_map>

#include "common/error.h"
#include "io/atomic_file.h"
#include "runtime/data/tokenizer.h"

namespace mart {

TrainedTokenizer train_sentencepiece(const TrainTokenizerOptions& opt) {
  namespace fs = std::filesystem;
  std::error_code ec;
  MART_CHECK(fs::is_regular_file(opt.text_path, ec), "train-tokenizer: input text '", opt.text_path,
             "' is not a readable regular file");
  MART_CHECK(fs::file_size(opt.text_path, ec) > 0 && !ec, "train-tokenizer: input text '",
             opt.text_path, "' is empty");
  MART_CHECK(opt.type == "bpe" || opt.type == "unigram", "train-tokenizer: --type '", opt.type,
             "' is not one of bpe, unigram");
  // 256 byte pieces + unk/bos/eos must fit, and a few learned pieces beyond them.
  MART_CHECK(opt.vocab_size >= 300 && opt.vocab_size <= 1000000, "train-tokenizer: --vocab-size ",
             opt.vocab_size, " must be in [300, 1000000] (byte fallback alone takes 259 ids)");
  MART_CHECK(!opt.out_path.empty() && !fs::is_directory(opt.out_path, ec),
             "train-tokenizer: output '", opt.out_path, "' must be a file path (e.g. tok.model)");

  const std::unordered_map<std::string, std::string> args = {
      {"input", opt.text_path},
      {"model_type", opt.type},
      {"vocab_size", std::to_string(opt.vocab_size)},
      // Llama-2's settings: bytes for anything unseen, one token per digit, text kept verbatim.
      {"byte_fallback", "true"},
      {"split_digits", "true"},
      {"normalization_rule_name", "identity"},
      {"remove_extra_whitespaces", "false"},
      {"add_dummy_prefix", "true"},
      {"allow_whitespace_only_pieces", "true"},
      {"character_coverage", "0.99995"},
      {"max_sentence_length", "16384"},
      {"unk_id", "0"},
      {"bos_id", "1"},
      {"eos_id", "2"},
      {"pad_id", "-1"},
      // Deterministic: every line in file order (no sampling, no shuffle), one thread.
      {"input_sentence_size", "0"},
      {"shuffle_input_sentence", "false"},
      {"num_threads", "1"},
      {"minloglevel", "1"},
  };
  std::string model;
  const auto st = sentencepiece::SentencePieceTrainer::Train(args, nullptr, &model);
  MART_CHECK(st.ok(), "train-tokenizer: SentencePiece could not train a ", opt.type, " model of ",
             opt.vocab_size, " pieces on '", opt.text_path, "': ", st.ToString(),
             st.ToString().find("oo high") != std::string::npos
                 ? " -- the text is too small for that vocabulary; lower --vocab-size"
                 : "");
  const fs::path parent = fs::path(opt.out_path).parent_path();
  if (!parent.empty()) {
    fs::create_directories(parent, ec);
    MART_CHECK(!ec, "train-tokenizer: cannot create the output folder '", parent.string(),
               "': ", ec.message());
  }
  write_file_atomic(opt.out_path, model.data(), model.size());
  TrainedTokenizer out;
  out.path = opt.out_path;
  out.vocab_size = load_tokenizer(opt.out_path)->vocab_size();
  return out;
}

}  // namespace mart
