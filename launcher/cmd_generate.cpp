// mart generate CHECKPOINT --prompt TEXT [--max-tokens N] [--temperature T] [--top-k K]
// [--top-p P] [--seed S] [--stop TEXT ...] [--no-cache] [--backend B]: text from a run directory,
// a MART checkpoint or a Hugging Face folder (runtime/checkpoint/model_source.h), streamed to
// stdout as it is generated; a one-line summary goes to stderr so stdout holds only text.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "launcher/commands.h"
#include "runtime/checkpoint/hf_checkpoint.h"
#include "runtime/checkpoint/model_source.h"
#include "runtime/data/tokenizer.h"
#include "runtime/generate/decoder.h"
#include "runtime/generate/generator.h"
#include "runtime/session.h"

namespace mart::cli {
namespace {

struct GenerateArgs {
  std::string source, prompt, backend;
  int max_tokens = 128;
  SamplingParams sampling{0.8f, 0, 1.0f, 0};
  std::vector<std::string> stop;
  bool no_cache = false, quiet = false;
};

void run_generate(const GenerateArgs& a) {
  check_sampling(a.sampling);
  MART_CHECK(a.max_tokens >= 1, "--max-tokens ", a.max_tokens, " must be >= 1");
  MART_CHECK(!a.prompt.empty(), "--prompt is empty: give the text to continue");
  ModelSource src = resolve_model_source(a.source);
  JobConfig cfg = src.config;
  // A manual plan (chunked, offloaded weights) is kept: the decoder acquires chunks as evaluation
  // does. memory.mode auto would profile a training step, which generation does not run: resident.
  if (cfg.memory.mode == "auto") cfg.memory = MemoryConfig{};
  if (!a.backend.empty()) cfg.backend = a.backend;
  std::unique_ptr<Tokenizer> tok = load_tokenizer(src.tokenizer_path);
  MART_CHECK(static_cast<int64_t>(tok->vocab_size()) <= cfg.model.vocab_size, "the tokenizer (",
             tok->describe(), ") has ", tok->vocab_size(), " ids but the model's vocabulary is ",
             cfg.model.vocab_size, "; use the tokenizer the model was trained with");
  const int prompt_len = static_cast<int>(tok->encode(a.prompt).size());
  const int context = cfg.model.max_seq_len;
  MART_CHECK(prompt_len >= 1, "the prompt encodes to no tokens");
  MART_CHECK(prompt_len <= context, "the prompt is ", prompt_len,
             " tokens but the model's context (", "model.max_seq_len) is ", context,
             " positions; shorten the prompt");
  SessionOptions so;
  so.executor = false;
  // The cache holds what this call can reach, not the whole context.
  so.generation = GenerationShape{1, std::min(context, prompt_len + a.max_tokens), 64};
  Session s(cfg, so);
  load_hf_weights(s.spec(), s.states(), src.weights_path);
  Decoder dec(s);
  TextOptions o;
  o.tokens.max_new_tokens = a.max_tokens;
  o.tokens.sampling = a.sampling;
  o.tokens.use_cache = !a.no_cache;
  o.stop = a.stop;
  o.on_text = [](std::string_view piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
  };
  std::fwrite(a.prompt.data(), 1, a.prompt.size(), stdout);
  const auto t0 = std::chrono::steady_clock::now();
  const TextResult r = generate_text(dec, *tok, a.prompt, o);
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fputc('\n', stdout);
  std::fflush(stdout);
  if (!a.quiet)
    std::fprintf(stderr, "mart: %zu tokens in %.2f s (%.1f tokens/s, %s, %s); stopped: %s\n",
                 r.tokens.size(), sec, sec > 0 ? r.tokens.size() / sec : 0.0,
                 a.no_cache ? "no cache" : "KV cache", src.description.c_str(),
                 stop_reason_name(r.reason));
}

constexpr const char* kGenerateFooter =
    "CHECKPOINT is a run directory (its newest intact checkpoint), a MART checkpoint directory\n"
    "(RUN/checkpoints/step_N) or a Hugging Face model folder (config.json + model.safetensors +\n"
    "tokenizer files). The prompt is printed, then the continuation as it is generated; a summary\n"
    "line (tokens, tokens/s, why it stopped) goes to stderr. Sampling: --temperature 0 is greedy;\n"
    "--top-k and --top-p narrow the candidates first; the same --seed gives the same text.\n"
    "See docs/GENERATION.md.";

}  // namespace

void add_generate(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  CLI::App* c = app.add_subcommand("generate", "Generate text from a checkpoint (KV cache)");
  c->add_option("checkpoint", a->source, "Run directory, MART checkpoint or Hugging Face folder")
      ->required();
  c->add_option("--prompt", a->prompt, "Text to continue")->required();
  c->add_option("--max-tokens", a->max_tokens, "New tokens at most (default 128)");
  c->add_option("--temperature", a->sampling.temperature, "Sampling temperature; 0 = greedy (0.8)");
  c->add_option("--top-k", a->sampling.top_k, "Keep the K most likely tokens; 0 = off (default)");
  c->add_option("--top-p", a->sampling.top_p, "Nucleus: smallest set of mass >= P; 1 = off");
  c->add_option("--seed", a->sampling.seed, "Sampling seed (default 0)");
  c->add_option("--stop", a->stop, "Stop before this text (repeatable)")->type_name("TEXT");
  c->add_flag("--no-cache", a->no_cache,
              "Re-run the whole sequence for every token (slow; a reference for the cache)");
  c->add_option("--backend", a->backend, "cpu, cuda or auto (default: the checkpoint's config)");
  c->add_flag("--quiet", a->quiet, "No summary line on stderr");
  c->footer(kGenerateFooter);
  c->callback([a] { run_generate(*a); });
}

}  // namespace mart::cli
