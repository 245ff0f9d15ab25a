// mart profile [CONFIG] -o PROFILE.json [--set key=value ...]
// Measures the job's model and the machine on the configured backend (a few seconds) and writes
// the planner's profile; `mart plan --hardware PROFILE.json` then plans with measured figures.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/progress_line.h"
#include "common/regular_file.h"
#include "config/config_loader.h"
#include "launcher/commands.h"
#include "profiler/measured_profile.h"
#include "runtime/backend.h"

namespace mart::cli {
namespace {

struct ProfileArgs {
  std::string config, out;
  std::vector<std::string> sets;
  int reps = 3;
  bool no_progress = false;
};

// Timed repetitions per measurement: at least one, and few enough that `mart profile` stays a
// matter of seconds to minutes.
constexpr int kMaxReps = 1000;

void run_profile(const ProfileArgs& a) {
  MART_CHECK(a.reps >= 1 && a.reps <= kMaxReps, "mart profile --reps ", a.reps,
             ": must be between 1 and ", kMaxReps,
             " (timed repetitions per measurement, median taken; 3 is the default)");
  MART_CHECK(!std::filesystem::exists(a.out) || is_regular_file(a.out), "mart profile -o '", a.out,
             "': exists and is not a regular file (a directory, FIFO or device); give a .json "
             "file path");
  const JobConfig cfg = load_job_config(a.config, a.sets);
  auto dev = make_device(cfg.backend);
  auto ops = make_ops(*dev);
  MeasureOptions mo;
  mo.reps = a.reps;
  mo.verbose = true;
  // [profile] 3/9 measurements | matmul | ETA 0:00:04
  ProgressPrinter bar("profile", 0, ProgressFormat::items("measurements"),
                      ProgressOptions::when(!a.no_progress));
  mo.progress = [&bar](int done, int total, const std::string& what) {
    bar.set_total(static_cast<uint64_t>(total));
    bar.update(static_cast<uint64_t>(done), what);
  };
  const Profile p = measured_profile(cfg, *dev, *ops, mo);
  bar.finish();
  save_profile(p, a.out);
  std::fprintf(stderr, "mart profile: wrote %s (%zu micro-batch sizes, %s)\n", a.out.c_str(),
               p.micro_batches.size(), p.hardware.name.c_str());
}

}  // namespace

void add_profile(CLI::App& app) {
  auto a = std::make_shared<ProfileArgs>();
  CLI::App* c = app.add_subcommand(
      "profile",
      "Measure the job's model and this machine (block times, copy bandwidth, CPU and device\n"
      "Adam, matmul) on the configured backend and write a profile for `mart plan`.");
  c->add_option("config", a->config, "Job config (YAML); omit for the default job");
  c->add_option("-o,--output", a->out, "Where to write the profile JSON")->required();
  c->add_option("--reps", a->reps, "Timed repetitions per measurement (median)")->type_name("N");
  c->add_option("--set", a->sets, "Override a config value")->type_name("KEY=VALUE");
  c->add_flag("--no-progress", a->no_progress, "No [profile] progress line on stderr");
  c->callback([a] { run_profile(*a); });
}

}  // namespace mart::cli
