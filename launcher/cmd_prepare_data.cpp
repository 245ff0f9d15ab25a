// mart prepare-data TEXT -o OUT.bin: byte-level tokenisation into llm.c-format shards.
#include <cstdio>
#include <string>

#include "launcher/commands.h"
#include "runtime/data/byte_tokenizer.h"

namespace mart::cli {

void add_prepare_data(CLI::App& app) {
  struct Args {
    std::string text, out;
    double val_fraction = 0.1;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand(
      "prepare-data",
      "Tokenise a UTF-8/raw text file byte by byte (vocabulary 256) into llm.c-format uint16\n"
      "token shards: OUT.bin (train) and OUT_val.bin (the last --val-fraction of the text).");
  // ExistingFile only stats the path; prepare_data refuses a FIFO, device or directory.
  c->add_option("text", a->text, "Input text file (a regular file)")
      ->required()
      ->check(CLI::ExistingFile);
  c->add_option("-o,--output", a->out,
                "Output train shard path (e.g. data/tinyshakespeare.bin; '.bin' is appended when\n"
                "missing, the folder is created). Refused: an existing directory, or a path that\n"
                "is the input text itself")
      ->required();
  c->add_option("--val-fraction", a->val_fraction,
                "Fraction of the text (from its end) written to the validation shard; 0: none")
      ->check(CLI::Range(0.0, 0.5));
  c->callback([a] {
    PreparedData d = prepare_data(a->text, a->out, a->val_fraction);
    std::printf("wrote %s (%llu tokens)", d.train_path.c_str(),
                static_cast<unsigned long long>(d.train_tokens));
    if (!d.val_path.empty())
      std::printf(" and %s (%llu tokens)", d.val_path.c_str(),
                  static_cast<unsigned long long>(d.val_tokens));
    std::printf("\n");
  });
}

}  // namespace mart::cli
