// mart train-tokenizer TEXT -o OUT.model --vocab-size N --type bpe|unigram
#include <cstdio>
#include <string>

#include "launcher/commands.h"
#include "runtime/data/train_tokenizer.h"

namespace mart::cli {

void add_train_tokenizer(CLI::App& app) {
  auto o = std::make_shared<TrainTokenizerOptions>();
  CLI::App* c = app.add_subcommand(
      "train-tokenizer",
      "Train a SentencePiece tokenizer (BPE or unigram) on a text file with Llama-2-like\n"
      "settings (byte fallback, digits split, no normalisation). Deterministic: the same text\n"
      "and options give the same file. Use it with prepare-data --tokenizer OUT.model.");
  c->add_option("text", o->text_path, "Training text (a regular file, one sentence per line)")
      ->required()
      ->check(CLI::ExistingFile);
  c->add_option("-o,--output", o->out_path, "The model file to write (e.g. data/tok.model)")
      ->required();
  c->add_option("--vocab-size", o->vocab_size, "Vocabulary size, >= 300 (default 8000)");
  c->add_option("--type", o->type, "bpe (default) or unigram")
      ->check(CLI::IsMember({"bpe", "unigram"}));
  c->callback([o] {
    const TrainedTokenizer t = train_sentencepiece(*o);
    std::printf("wrote %s (sentencepiece %s, vocab %u)\n", t.path.c_str(), o->type.c_str(),
                t.vocab_size);
    std::printf("next: mart prepare-data TEXT -o data/train.bin --tokenizer %s\n", t.path.c_str());
  });
}

}  // namespace mart::cli
