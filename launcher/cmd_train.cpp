// mart train [CONFIG.yaml] [--set key=value ...] [--run-dir DIR | --resume DIR]
#include <cstdio>
#include <string>
#include <vector>

#include "common/error.h"
#include "config/config_loader.h"
#include "launcher/commands.h"
#include "profiler/auto_plan.h"
#include "runtime/checkpoint/train_checkpoint.h"
#include "runtime/trainer.h"

namespace mart::cli {
namespace {

struct TrainArgs {
  std::string config;
  std::vector<std::string> sets;
  std::string run_dir, resume, init_from;
  int stop_after = -1;
  bool no_progress = false;
};

void run_train(const TrainArgs& a) {
  JobConfig cfg;
  TrainOptions opt;
  if (!a.resume.empty()) {
    MART_CHECK(a.config.empty(),
               "--resume continues a run with the config saved in its "
               "checkpoint; do not pass CONFIG (use --set to change e.g. train.steps)");
    MART_CHECK(a.run_dir.empty(), "--resume DIR writes into DIR; do not also pass --run-dir");
    cfg = checkpoint_config(latest_checkpoint(a.resume));
    apply_overrides(cfg, a.sets);
    opt.run_dir = a.resume;
    opt.resume = true;
  } else {
    cfg = load_job_config(a.config, a.sets);
    opt.run_dir = a.run_dir.empty() ? default_run_dir("runs", cfg.name) : a.run_dir;
  }
  opt.init_from = a.init_from;
  opt.stop_after = a.stop_after;
  opt.progress = !a.no_progress;
  opt.auto_planner = &auto_plan_for_training;  // memory.mode: auto
  Trainer(cfg, opt).run();
}

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
  c->add_option("--init-from", a->init_from,
                "Initialise weights from a Hugging Face checkpoint (model.safetensors or its "
                "directory) matching the configured model")
      ->type_name("PATH");
  c->add_option("--stop-after", a->stop_after,
                "Stop after this many steps of this invocation, saving a checkpoint (to resume "
                "later)")
      ->type_name("N");
  c->add_flag("--no-progress", a->no_progress, "No live progress line");
  c->callback([a] { run_train(*a); });
}

}  // namespace mart::cli
