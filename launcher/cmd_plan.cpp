// mart plan [CONFIG] [--gpu-mem SIZE] [--host-mem SIZE] [--hardware NAME|FILE.yaml|PROFILE.json]
//           [--json] [--explain] [--trace OUT.json] [--html PLAN.html [--measured RUN_DIR]]
//           [--set key=value ...]
// Needs no GPU and no data: an analytic profile of the job on a hardware description (or a
// measured profile), the plan search, and the predicted memory and speed.
// Exit status: 0 the job fits, 3 it does not fit (the report says why and what would), other
// non-zero values for errors (a bad config or option), so scripts can branch on it.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/progress_line.h"
#include "common/units.h"
#include "config/config_loader.h"
#include "kernels/layout_ops.h"
#include "launcher/commands.h"
#include "planner/hardware.h"
#include "profiler/plan_job.h"
#include "report/plan_page.h"
#include "runtime/memory_budget.h"

namespace mart::cli {
namespace {

struct PlanCliArgs {
  std::string config, gpu_mem, host_mem, hardware, trace, html, measured;
  std::vector<std::string> sets;
  bool json = false, explain = false, allow_compress = false, no_progress = false;
  int generate_len = 0;
};

// --generate-len N: what `mart generate` adds to the arena for N positions (batch 1): the KV
// cache and the decoder's buffers, in the backend's act dtype (bf16 unless backend cpu).
nlohmann::json generation_memory(const JobConfig& cfg, int len) {
  MART_CHECK(len >= 1 && len <= cfg.model.max_seq_len, "--generate-len ", len,
             " must be in [1, model.max_seq_len = ", cfg.model.max_seq_len, "]");
  const std::unique_ptr<Ops> ops = cfg.backend == "cpu" ? make_cpu_ops() : make_cuda_layout_ops();
  DeviceBudget d;
  add_generation_budget(d, build_model_spec(cfg.model), *ops, 1, len, std::min(len, 64));
  return {{"positions", len}, {"kv_cache_bytes", d.kv_cache}, {"decoder_bytes", d.decode}};
}

// `mart plan`'s exit status when the job does not fit (documented in --help and the README).
constexpr int kExitDoesNotFit = 3;

// A --gpu-mem/--host-mem value in bytes; 0 when not given. An explicit 0 would silently mean
// "the default", so it is refused, as are sizes above the limit table's memory.device_capacity.
uint64_t memory_option(const char* option, const std::string& text) {
  if (text.empty()) return 0;
  const uint64_t bytes = parse_size(text);
  constexpr uint64_t kMaxBytes = uint64_t{1} << 50;
  MART_CHECK(bytes > 0 && bytes <= kMaxBytes, "mart plan ", option, " ", text,
             ": must be between 1 byte and 1PiB (e.g. 24GiB); omit it for the hardware's");
  return bytes;
}

// --html PLAN.html [--measured RUN_DIR]: the plan page (report/plan_page.h). Written whether or
// not the job fits (a page of a job that does not fit shows what overflows).
void write_plan_html(const PlanCliArgs& a, const JobPlan& jp) {
  MeasuredRun measured;
  if (!a.measured.empty()) measured = load_measured_run(a.measured);
  PlanPageInput in{a.config.empty() ? "the default job" : a.config,
                   jp.profile_note,
                   &jp.profile,
                   &jp.options,
                   &jp.result,
                   a.measured.empty() ? nullptr : &measured};
  plan_page(in).write(a.html);  // a write error names the path
  std::fprintf(stderr, "mart plan: wrote %s\n", a.html.c_str());
}

void run_plan(const PlanCliArgs& a) {
  MART_CHECK(a.measured.empty() || !a.html.empty(), "--measured ", a.measured,
             " needs --html PLAN.html (the page it is drawn on)");
  const JobConfig cfg = load_job_config(a.config, a.sets);
  PlanArgs pa;
  pa.hardware = a.hardware;
  pa.gpu_mem = memory_option("--gpu-mem", a.gpu_mem);
  pa.host_mem = memory_option("--host-mem", a.host_mem);
  pa.allow_compress = a.allow_compress;
  // [plan] 1830/5000 candidates | ETA 0:00:02 on stderr; the plan never depends on it.
  ProgressPrinter bar("plan", 0, ProgressFormat::items("candidates"),
                      ProgressOptions::when(!a.no_progress));
  pa.progress = [&bar](uint64_t done, uint64_t total) {
    bar.set_total(total);
    bar.update(done);
  };
  const JobPlan jp = plan_job(cfg, pa);
  bar.finish();
  if (!a.trace.empty()) {
    MART_CHECK(jp.result.fits, "--trace: nothing fits, so there is no schedule to trace");
    nlohmann::json events = nlohmann::json::array();
    evaluate_plan(jp.profile, jp.result.best.plan, jp.options.cost, &events);
    std::ofstream f(a.trace);
    MART_CHECK(f.good(), "cannot open ", a.trace, " for writing");
    f << nlohmann::json{{"traceEvents", events}, {"displayTimeUnit", "ms"}}.dump() << "\n";
  }
  if (!a.html.empty()) write_plan_html(a, jp);
  const nlohmann::json gen = a.generate_len ? generation_memory(cfg, a.generate_len) : nullptr;
  if (a.json) {
    nlohmann::json j = job_plan_json(jp);
    if (!gen.is_null()) j["generation"] = gen;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("%s", job_plan_text(jp, a.explain).c_str());
    if (!gen.is_null())
      std::printf("generation (%d positions, batch 1): KV cache %s, decoder buffers %s\n",
                  a.generate_len, format_bytes(gen["kv_cache_bytes"].get<uint64_t>()).c_str(),
                  format_bytes(gen["decoder_bytes"].get<uint64_t>()).c_str());
  }
  std::fflush(stdout);
  // CLI11 returns a RuntimeError's code from app.exit() without printing anything.
  if (!jp.result.fits) throw CLI::RuntimeError(kExitDoesNotFit);
}

}  // namespace

void add_plan(CLI::App& app) {
  auto a = std::make_shared<PlanCliArgs>();
  std::string names;
  for (auto& n : builtin_hardware_names()) names += (names.empty() ? "" : ", ") + n;
  CLI::App* c = app.add_subcommand(
      "plan",
      "Plan a job's memory: what stays on the device, what is offloaded, recomputed or swapped,\n"
      "the micro-batch, and the predicted peak memory and speed. Needs no GPU and no data.\n"
      "Exit status: 0 the job fits, 3 it does not fit, any other non-zero value an error (a bad\n"
      "config or option).");
  c->add_option("config", a->config,
                "Job config (YAML); see configs/jobs/. Omit for the default job");
  c->add_option("--gpu-mem", a->gpu_mem,
                "Device memory to plan for (e.g. 24GiB); default memory.device_capacity, else the "
                "hardware's")
      ->type_name("SIZE");
  c->add_option("--host-mem", a->host_mem, "Host memory to plan for; default the hardware's")
      ->type_name("SIZE");
  c->add_option("--hardware", a->hardware,
                "Built-in hardware (" + names +
                    "), a hardware .yaml (configs/hardware/), or a "
                    "profile .json from `mart profile`. Default: h100-sxm, or cpu for backend: cpu")
      ->type_name("NAME|FILE");
  c->add_flag("--json", a->json, "Print one JSON object (fits, binding_resource, plan, predicted)");
  c->add_flag("--explain", a->explain,
              "Also print the memory breakdown, transfers, busy times, search statistics and "
              "runner-up plans");
  c->add_option("--trace", a->trace,
                "Write the best plan's simulated schedule as a Chrome/Perfetto trace (JSON)")
      ->type_name("OUT.json");
  c->add_option("--html", a->html,
                "Write a self-contained HTML page of the plan: memory regions as stacked bars, the "
                "simulated\niteration as a timeline, block modes, runner-up plans (also when "
                "nothing fits)")
      ->type_name("PLAN.html");
  c->add_option(
       "--measured", a->measured,
       "With --html: also draw a training run's measured iteration (RUN_DIR/timeline.json, "
       "from\n`mart train` with train.trace_step set) against the prediction, and its "
       "summary.json peak")
      ->type_name("RUN_DIR");
  c->add_flag("--allow-compress", a->allow_compress,
              "Let the plan compress activations, on the device or swapped to the host\n"
              "(compress, compress_swap: lossy, bounded by activations.eb)");
  c->add_option("--generate-len", a->generate_len,
                "Also report the KV cache and decoder memory of `mart generate` for N positions")
      ->type_name("N");
  c->add_option("--set", a->sets, "Override a config value, e.g. --set train.micro_batch=4")
      ->type_name("KEY=VALUE");
  c->add_flag("--no-progress", a->no_progress, "No [plan] progress line on stderr");
  c->callback([a] { run_plan(*a); });
}

}  // namespace mart::cli
