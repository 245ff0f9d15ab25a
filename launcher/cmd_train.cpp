// mart train [CONFIG.yaml] [--set key=value ...] [--run-dir DIR [--overwrite] | --resume DIR
// [--extend]]. Installs the stop-signal handlers (train.stop_signals) for the run only, and exits
// kExitResumable (75) when a signal or time limit stopped it early with a checkpoint.
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "config/config_loader.h"
#include "config/config_validate.h"
#include "launcher/commands.h"
#include "profiler/auto_plan.h"
#include "runtime/checkpoint/init_from.h"
#include "runtime/checkpoint/train_checkpoint.h"
#include "runtime/preemption.h"
#include "runtime/trainer.h"

namespace mart::cli {
namespace {

struct TrainArgs {
  std::string config;
  std::vector<std::string> sets;
  std::string run_dir, resume, init_from;
  int stop_after = -1;
  bool stop_after_given = false;
  bool no_progress = false;
  bool overwrite = false, extend = false;
};

// What is left of the Slurm job, when inside one (SLURM_JOB_END_TIME); 0: no limit.
double slurm_time_limit() {
  const char* env = std::getenv("SLURM_JOB_END_TIME");
  if (!env || !*env) return 0;
  const double left = slurm_seconds_left(env, static_cast<double>(std::time(nullptr)));
  if (left == DeadlineGuard::kNone) {
    std::fprintf(stderr, "mart: warning: SLURM_JOB_END_TIME='%s' is not epoch seconds; ignored\n",
                 env);
    return 0;
  }
  // Already past: the smallest positive limit, so the run stops before its first step.
  return left > 0 ? left : 1e-9;
}

// A fresh run's config; with --init-from, the model comes from the checkpoint (init_from.h) and
// opt.init_from is set to its weights file.
JobConfig fresh_config(const TrainArgs& a, TrainOptions& opt) {
  LoadedJobConfig l = load_job_config_unvalidated(a.config, a.sets);
  if (!a.init_from.empty()) {
    const InitSource src = resolve_init_source(a.init_from);
    if (src.has_config)
      merge_init_model(l.config.model, l.stated_model_keys, src.model, l.origin, src.config_path);
    opt.init_from = src.weights_path;
  }
  validate(l.config, l.origin);
  return l.config;
}

void run_train(const TrainArgs& a) {
  MART_CHECK(!a.stop_after_given || a.stop_after >= 0, "--stop-after ", a.stop_after,
             ": must be >= 0 (the number of steps this invocation trains before saving a "
             "checkpoint); omit it to train to train.steps");
  MART_CHECK(!a.overwrite || a.resume.empty(),
             "--overwrite starts a new run and --resume continues one; pass one of them");
  MART_CHECK(!a.extend || !a.resume.empty(),
             "--extend continues a finished run: use it with --resume DIR --set train.steps=N");
  JobConfig cfg;
  TrainOptions opt;
  if (!a.resume.empty()) {
    MART_CHECK(a.config.empty(),
               "--resume continues a run with the config saved in its "
               "checkpoint; do not pass CONFIG (use --set to change e.g. train.steps)");
    MART_CHECK(a.run_dir.empty(), "--resume DIR writes into DIR; do not also pass --run-dir");
    cfg = newest_intact_checkpoint(a.resume).saved.config;
    apply_overrides(cfg, a.sets);
    if (!a.sets.empty()) validate(cfg, "the checkpoint's config with --set overrides");
    opt.run_dir = a.resume;
    opt.resume = true;
    opt.extend = a.extend;
    MART_CHECK(a.init_from.empty(),
               "--init-from starts a new run from a checkpoint's weights and "
               "--resume continues a run; pass one of them");
  } else {
    cfg = fresh_config(a, opt);
    opt.run_dir = a.run_dir.empty() ? default_run_dir("runs", cfg.name) : a.run_dir;
  }
  opt.overwrite = a.overwrite;
  opt.stop_after = a.stop_after_given ? a.stop_after : -1;
  opt.progress = !a.no_progress;
  opt.auto_planner = auto_planner_with_progress(opt.progress);  // memory.mode: auto
  opt.time_limit_s = slurm_time_limit();
  // Handlers for this run: installed after the config is known; restored if the run fails, kept
  // until exit once it has finished.
  std::optional<ScopedStopSignals> signals;
  if (!cfg.train.stop_signals.empty()) {
    signals.emplace(cfg.train.stop_signals);
    opt.stop_flag = signals->flag();
  }
  const TrainSummary s = Trainer(cfg, opt).run();
  // The run's files are complete: a signal from here to exit must not turn it into a kill.
  if (signals) signals->keep_until_exit();
  if (s.resumable_stop()) throw CLI::RuntimeError(kExitResumable);  // exits 75, prints nothing
}

constexpr const char* kTrainFooter =
    "Stopping early: the signals in train.stop_signals (default TERM, INT, USR1) and the time\n"
    "limits (train.max_time per invocation; in a Slurm job, SLURM_JOB_END_TIME) end the run\n"
    "after the step in flight, with its metrics line and a checkpoint. A second signal aborts at\n"
    "once. Resume with --resume DIR; the run continues bitwise-identically.\n"
    "Exit status: 0 trained to train.steps (or --stop-after); 75 (EX_TEMPFAIL) stopped early by a\n"
    "signal or time limit, resumable with --resume DIR; 1 an error (message on stderr); 2 bad\n"
    "command line. A second signal kills the process by that signal (a shell shows 128+N, e.g. "
    "143).";

}  // namespace

void add_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* c = app.add_subcommand(
      "train",
      "Train a model. With no CONFIG, runs the built-in default job: a ~3M-parameter Llama on a\n"
      "synthetic order-2 Markov corpus whose ideal loss (its entropy rate) is printed, so the\n"
      "falling loss can be judged against the best achievable.");
  c->add_option("config", a->config,
                "Job config (YAML); see configs/jobs/. Omit for the default job");
  c->add_option(
       "--set", a->sets,
       "Override a config value, e.g. --set train.steps=200 --set memory.device_capacity=64MiB "
       "(repeatable)")
      ->type_name("KEY=VALUE");
  c->add_option("--run-dir", a->run_dir,
                "Where to write config.yaml, metrics.jsonl, summary.json and checkpoints/ "
                "(default: runs/<date>_<time>_<job>)");
  c->add_option("--resume", a->resume,
                "Continue the run in DIR from its latest checkpoint (bitwise-identical "
                "continuation)")
      ->type_name("DIR");
  c->add_option(
       "--init-from", a->init_from,
       "Initialise weights from a Hugging Face folder (config.json + model.safetensors), a "
       "MART run or checkpoint, or a model.safetensors file. The model is built from its "
       "config.json: model keys the job config leaves out are taken from it, a stated key "
       "that differs is refused (docs/CHECKPOINTS.md)")
      ->type_name("PATH");
  c->add_option("--stop-after", a->stop_after,
                "Stop after this many steps of this invocation, saving a checkpoint (to resume "
                "later)")
      ->type_name("N");
  c->add_flag("--overwrite", a->overwrite,
              "Start a new run in a --run-dir that holds a previous run, deleting that run's "
              "files (config.yaml, metrics.jsonl, summary.json, checkpoints/) first");
  c->add_flag("--extend", a->extend,
              "With --resume and --set train.steps=N: train a run further than its train.steps, "
              "on a cosine schedule stretched to N (also resumes a finished run)");
  c->add_flag("--no-progress", a->no_progress, "No live progress line");
  c->footer(kTrainFooter);
  c->callback([a, c] {
    a->stop_after_given = c->count("--stop-after") > 0;
    run_train(*a);
  });
}

}  // namespace mart::cli
