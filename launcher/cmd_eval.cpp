// mart eval CHECKPOINT DATA [--sequences N]: the loss and perplexity of a model over token shards,
// forward only. CHECKPOINT is a run directory, a MART checkpoint or a Hugging Face folder
// (runtime/checkpoint/model_source.h); DATA a glob of llm.c token shards made with the model's
// tokenizer. Sequences are the shards' consecutive windows of seq_len tokens, read in order.
#include <cstdio>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/progress_line.h"
#include "config/config_loader.h"
#include "config/config_validate.h"
#include "launcher/commands.h"
#include "profiler/auto_plan.h"
#include "runtime/checkpoint/hf_checkpoint.h"
#include "runtime/checkpoint/model_source.h"
#include "runtime/data/data_loader.h"
#include "runtime/evaluation.h"
#include "runtime/session.h"

namespace mart::cli {
namespace {

struct EvalArgs {
  std::string checkpoint, data;
  long long sequences = 0;  // 0: every window
  std::vector<std::string> sets;
  bool no_progress = false;
};

void run_eval(const EvalArgs& a) {
  MART_CHECK(a.sequences >= 0, "--sequences ", a.sequences,
             ": must be >= 1 (or omit it to evaluate every window of DATA)");
  const ModelSource src = resolve_model_source(a.checkpoint);
  JobConfig cfg = src.config;
  apply_overrides(cfg, a.sets);
  validate(cfg, src.description + (a.sets.empty() ? "" : " with --set overrides"));
  SessionOptions so;
  so.auto_planner = &auto_plan_for_training;  // a run trained with memory.mode: auto
  Session session(cfg, std::move(so));
  load_hf_weights(session.spec(), session.states(), src.weights_path);

  const JobConfig& plan = session.config();
  LoaderOptions lo;
  lo.batch_size = plan.train.micro_batch;
  lo.seq_len = plan.train.seq_len;
  lo.vocab_size = static_cast<uint32_t>(plan.model.vocab_size);
  DataLoader data = DataLoader::from_shards(a.data, lo);  // sequential from the start
  const uint64_t windows = data.windows_per_epoch();
  uint64_t n = a.sequences > 0 ? static_cast<uint64_t>(a.sequences) : windows;
  if (n > windows) {
    std::fprintf(stderr,
                 "mart: note: --sequences %llu but %s holds %llu windows of %d tokens; "
                 "evaluating all of them\n",
                 static_cast<unsigned long long>(n), a.data.c_str(),
                 static_cast<unsigned long long>(windows), lo.seq_len);
    n = windows;
  }
  std::fprintf(stderr, "mart: evaluating %s on %s: %llu sequences of %d tokens\n",
               src.description.c_str(), a.data.c_str(), static_cast<unsigned long long>(n),
               lo.seq_len);
  // [eval] 640/4096 sequences | 51.2 sequences/s | ETA 0:01:07
  ProgressFormat f = ProgressFormat::items("sequences");
  f.rate = true;
  ProgressPrinter bar("eval", n, f, ProgressOptions::when(!a.no_progress));
  const EvalResult r =
      evaluate_sequences(session, data, n, [&bar](uint64_t done, uint64_t) { bar.update(done); });
  bar.finish();
  std::printf("loss %.6f  perplexity %.4f  sequences %llu  tokens %llu\n", r.loss, r.perplexity(),
              static_cast<unsigned long long>(r.sequences),
              static_cast<unsigned long long>(r.tokens));
}

}  // namespace

void add_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* c = app.add_subcommand(
      "eval",
      "Loss and perplexity of a model over token shards (forward only): every window of\n"
      "train.seq_len tokens in DATA, in order, or the first N with --sequences. Prints one line:\n"
      "loss (nats/token), perplexity, and the sequences and tokens it covers.");
  c->add_option("checkpoint", a->checkpoint,
                "A run directory (its newest intact checkpoint), a MART checkpoint directory, or a "
                "Hugging Face folder (config.json + model.safetensors)")
      ->required();
  c->add_option("data", a->data,
                "Token shards (a path or glob, e.g. data/tinyshakespeare_val.bin) made with the "
                "model's tokenizer (mart prepare-data)")
      ->required();
  c->add_option("--sequences", a->sequences,
                "Evaluate the first N sequences (default: every window of DATA)");
  c->add_option("--set", a->sets,
                "Override a config value, e.g. --set train.seq_len=128 --set train.micro_batch=4")
      ->type_name("KEY=VALUE");
  c->add_flag("--no-progress", a->no_progress, "No [eval] progress line on stderr");
  c->callback([a] { run_eval(*a); });
}

}  // namespace mart::cli
