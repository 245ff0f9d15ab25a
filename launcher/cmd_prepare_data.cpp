// mart prepare-data TEXT -o OUT.bin [--tokenizer PATH]: tokenise a text file into llm.c shards.
#include <cstdio>
#include <string>

#include "common/progress_line.h"
#include "launcher/commands.h"
#include "runtime/data/byte_tokenizer.h"
#include "runtime/data/prepare_tokens.h"
#include "runtime/data/tokenizer.h"

namespace mart::cli {

namespace {

struct Args {
  std::string text, out, tokenizer;
  double val_fraction = 0.1;
  bool no_progress = false;
};

void run_prepare(const Args& a) {
  const auto tok = load_tokenizer(a.tokenizer);
  // [prepare-data] 12.00 MiB/100.00 MiB | 4.10 MiB/s | ETA 0:00:21 (input bytes tokenised)
  ProgressPrinter bar("prepare-data", 0, ProgressFormat::bytes(),
                      ProgressOptions::when(!a.no_progress));
  const auto progress = [&bar](uint64_t done, uint64_t total) {
    bar.set_total(total);
    bar.update(done);
  };
  PreparedData d;
  if (tok->kind() == TokenizerKind::Byte) {
    d = prepare_data(a.text, a.out, a.val_fraction, progress);  // exact byte split, as before
  } else {
    PrepareOptions opt;
    opt.val_fraction = a.val_fraction;
    opt.progress = progress;
    d = prepare_data_with_tokenizer(a.text, a.out, *tok, opt);
  }
  bar.finish();
  const bool u16 = d.format == TokenFormat::U16;
  std::printf("tokenizer: %s\n", tok->describe().c_str());
  std::printf("wrote %s (%llu tokens, %s)", d.train_path.c_str(),
              static_cast<unsigned long long>(d.train_tokens), u16 ? "uint16" : "uint32");
  if (!d.val_path.empty())
    std::printf(" and %s (%llu tokens)", d.val_path.c_str(),
                static_cast<unsigned long long>(d.val_tokens));
  std::printf("\nin the job config:\n");
  if (tok->kind() != TokenizerKind::Byte)
    std::printf("  data.tokenizer: %s\n", tok->files().front().c_str());
  std::printf("  model.vocab_size: %u   # at least the tokenizer's %u ids\n", tok->vocab_size(),
              tok->vocab_size());
}

}  // namespace

void add_prepare_data(CLI::App& app) {
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand(
      "prepare-data",
      "Tokenise a text file into llm.c-format token shards: OUT.bin (train) and OUT_val.bin\n"
      "(the last --val-fraction of the text). Bytes (vocabulary 256) unless --tokenizer names\n"
      "one; uint16 shards when the vocabulary fits 65536 ids, else uint32.");
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
                "Fraction of the text (from its end) written to the validation shard; 0: none.\n"
                "With --tokenizer the split moves to the next line start")
      ->check(CLI::Range(0.0, 0.5));
  c->add_option("--tokenizer", a->tokenizer,
                "'byte' (default), a SentencePiece tokenizer.model, a Hugging Face tokenizer.json\n"
                "(byte-level BPE), GPT-2's encoder.json (vocab.bpe beside it), or a folder\n"
                "holding one. Large inputs stream in chunks with a progress line on stderr");
  c->add_flag("--no-progress", a->no_progress, "No [prepare-data] progress line on stderr");
  c->callback([a] { run_prepare(*a); });
}

}  // namespace mart::cli
