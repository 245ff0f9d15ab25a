#include "runtime/trainer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/units.h"
#include "config/config_loader.h"
#include "device/device.h"
#include "io/atomic_file.h"
#include "memory/device_arena.h"
#include "runtime/checkpoint/hf_checkpoint.h"
#include "runtime/checkpoint/train_checkpoint.h"
#include "runtime/data/data_loader.h"
#include "runtime/data/job_data.h"
#include "runtime/data/markov_corpus.h"
#include "runtime/lr_schedule.h"
#include "runtime/session.h"

namespace fs = std::filesystem;

namespace mart {
namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string hms(double s) {
  long t = static_cast<long>(s + 0.5);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
  return buf;
}

void write_text(const std::string& path, const std::string& s) {
  write_file_atomic(path, s.data(), s.size());
}

}  // namespace

std::string default_run_dir(const std::string& parent, const std::string& job) {
  std::time_t now = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d_%H-%M-%S", std::localtime(&now));
  std::string base = parent + "/" + buf + "_" + job, dir = base;
  for (int i = 1; fs::exists(dir); ++i) dir = base + "-" + std::to_string(i);
  return dir;
}

struct Trainer::Impl {
  JobConfig cfg;
  TrainOptions opt;
  std::unique_ptr<Session> session;  // device, ops, arena, model states, executor
  std::shared_ptr<const MarkovSource> markov;
  std::unique_ptr<DataLoader> train_data, val_data;
  TrainState st;

  Impl(JobConfig c, TrainOptions o) : cfg(std::move(c)), opt(std::move(o)) {
    MART_CHECK(!opt.run_dir.empty(), "trainer: a run directory is required");
    for (const std::string& n : remove_stale_checkpoint_temporaries(opt.run_dir))
      std::fprintf(stderr, "mart: removed %s/checkpoints/%s, left by a killed save\n",
                   opt.run_dir.c_str(), n.c_str());
    std::string resume_dir;
    if (opt.resume) {
      // The checkpoint's config is the run's config; explicit settings were applied by the caller
      // only to fields that may change on resume (e.g. train.steps). Fails early and clearly
      // when there is nothing intact to resume.
      const CheckpointChoice c = newest_intact_checkpoint(opt.run_dir);
      for (const std::string& s : c.skipped)
        std::fprintf(stderr, "mart: skipping damaged checkpoint %s\n", s.c_str());
      std::fprintf(stderr, "mart: resuming from %s\n", c.dir.c_str());
      resume_dir = c.dir;
    }
    SessionOptions so;
    so.auto_planner = opt.auto_planner;
    session = std::make_unique<Session>(cfg, std::move(so));
    cfg = session->config();  // memory.mode auto: the plan

    JobData data = make_job_data(cfg);
    markov = std::move(data.markov);
    train_data = std::move(data.train);
    val_data = std::move(data.val);

    if (opt.resume) {
      st = load_checkpoint(resume_dir, session->spec(), session->states());
      train_data->restore(st.loader);
    } else if (!opt.init_from.empty()) {
      std::string path = opt.init_from;
      if (fs::is_directory(path)) path += "/model.safetensors";
      load_hf_weights(session->spec(), session->states(), path);
    } else {
      session->init_weights(cfg.train.seed);
    }
  }

  // memory.mode auto: the planner's prediction next to what this run measured (summary.json
  // "planner").
  nlohmann::json planner_report(const TrainSummary& s) {
    nlohmann::json r = session->planner();
    const uint64_t peak = r["predicted"]["peak_device_bytes"].get<uint64_t>();
    const double step = r["predicted"]["iteration_s"].get<double>();
    const double err = s.median_step_s > 0 ? (s.median_step_s - step) / step : 0;
    r["measured"] = {{"peak_device_bytes", s.peak_device_bytes}, {"iteration_s", s.median_step_s}};
    r["error"] = {{"peak_device_bytes",
                   static_cast<int64_t>(s.peak_device_bytes) - static_cast<int64_t>(peak)},
                  {"iteration_rel", err}};
    std::fprintf(stderr,
                 "mart: planner: peak device memory predicted %s, measured %s%s; step "
                 "time predicted %.4f s, measured %.4f s (median, %+.1f%%)\n",
                 format_bytes(peak).c_str(), format_bytes(s.peak_device_bytes).c_str(),
                 peak == s.peak_device_bytes ? " (exact)" : "", step, s.median_step_s, 100 * err);
    return r;
  }
  std::vector<MicroBatch> next_step_batches() {
    std::vector<MicroBatch> mbs(cfg.train.grad_accum);
    const size_t n = static_cast<size_t>(cfg.train.micro_batch) * cfg.train.seq_len;
    for (auto& mb : mbs) {
      mb.inputs.resize(n);
      mb.targets.resize(n);
      train_data->next(mb.inputs, mb.targets);
    }
    return mbs;
  }

  double evaluate() {
    if (!val_data || cfg.train.eval_batches <= 0) return 0;
    val_data->reset();  // the same validation batches every time
    const size_t n = static_cast<size_t>(cfg.train.micro_batch) * cfg.train.seq_len;
    double sum = 0;
    for (int i = 0; i < cfg.train.eval_batches; ++i) {
      MicroBatch mb;
      mb.inputs.resize(n);
      mb.targets.resize(n);
      val_data->next(mb.inputs, mb.targets);
      sum += session->eval_loss(mb);
    }
    return sum / cfg.train.eval_batches;
  }

  // Keeps the lines of metrics.jsonl up to `step` (a resumed run rewrites what came after).
  void trim_metrics(const std::string& path, int step) {
    if (!fs::exists(path)) return;
    std::ifstream in(path);
    std::string line, kept;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      try {
        if (nlohmann::json::parse(line).value("step", 0) <= step) kept += line + "\n";
      } catch (const nlohmann::json::exception&) {
        break;  // a torn last line from a crash
      }
    }
    write_text(path, kept);
  }

  // What the activation manager did over this run (this process): bytes copied by swap and by
  // compress_swap, and per compressed block its last encoding, bound and fallbacks.
  nlohmann::json activations_json() const {
    const ActivationManager& acts = session->executor().activations();
    const ActivationStats& a = acts.stats();
    nlohmann::json blocks = nlohmann::json::array();
    for (size_t b = 0; b < a.blocks.size(); ++b) {
      const BlockActStats& x = a.blocks[b];
      if (!act_mode_compresses(x.mode)) continue;
      blocks.push_back({{"block", b},
                        {"mode", act_mode_name(x.mode)},
                        {"encoded_bytes", x.encoded_bytes},
                        {"eb", x.eb},
                        {"fallbacks", x.fallbacks}});
    }
    return {{"body_bytes", acts.body_bytes()},
            {"swap_out_bytes", a.swap_out_bytes},
            {"swap_in_bytes", a.swap_in_bytes},
            {"compress_swap_out_bytes", a.cswap_out_bytes},
            {"compress_swap_in_bytes", a.cswap_in_bytes},
            {"compressed_blocks", blocks}};
  }

  TrainSummary run() {
    fs::create_directories(opt.run_dir);
    write_text(opt.run_dir + "/config.yaml", to_yaml(cfg));
    const std::string metrics_path = opt.run_dir + "/metrics.jsonl";
    if (opt.resume)
      trim_metrics(metrics_path, st.step);
    else
      write_text(metrics_path, "");
    std::ofstream metrics(metrics_path, std::ios::app);
    MART_CHECK(metrics.good(), "cannot open ", metrics_path, " for writing");

    const auto& t = cfg.train;
    const bool tty = opt.progress && isatty(fileno(stderr));
    const double tokens_per_step = static_cast<double>(t.micro_batch) * t.seq_len * t.grad_accum;
    std::fprintf(stderr,
                 "mart: %s | %s backend | %s model, %.2fM params | device budget %s | run %s\n",
                 cfg.name.c_str(), backend_name(session->device().backend()),
                 family_name(cfg.model.family), session->spec().n_params / 1e6,
                 format_bytes(session->device_budget_bytes()).c_str(), opt.run_dir.c_str());
    if (markov)
      std::fprintf(stderr,
                   "mart: synthetic Markov corpus, entropy rate %.4f nats/token (the "
                   "best achievable loss)\n",
                   markov->entropy_rate_nats());

    std::vector<double> step_times;
    double last_loss = 0, best_loss = 1e300, last_val = 0;
    int last_ckpt = st.step;
    const int end = opt.stop_after >= 0 ? std::min(t.steps, st.step + opt.stop_after) : t.steps;
    auto t_start = std::chrono::steady_clock::now();
    while (st.step < end) {
      StepHyper h;
      h.lr = lr_at(t, st.step);
      h.beta1 = t.beta1;
      h.beta2 = t.beta2;
      h.eps = t.eps;
      h.weight_decay = t.weight_decay;
      h.grad_clip = t.grad_clip;
      h.step = st.step + 1;
      StepResult r = session->train_step(next_step_batches(), h);
      ++st.step;
      st.tokens_seen += r.tokens;
      st.loader = train_data->state();
      step_times.push_back(r.seconds);
      last_loss = r.loss;
      best_loss = std::min(best_loss, r.loss);
      nlohmann::json m = {{"step", st.step},
                          {"loss", r.loss},
                          {"lr", h.lr},
                          {"grad_norm", r.grad_norm},
                          {"step_s", r.seconds},
                          {"tokens_per_s", tokens_per_step / r.seconds},
                          {"peak_device_bytes", session->arena().stats().peak_in_use}};
      const bool eval_now = t.eval_every > 0 && (st.step % t.eval_every == 0 || st.step == t.steps);
      if (eval_now && val_data) {
        last_val = evaluate();
        m["val_loss"] = last_val;
        if (st.best_val_loss == 0 || last_val < st.best_val_loss) st.best_val_loss = last_val;
      }
      metrics << m.dump() << "\n";
      metrics.flush();
      if (opt.progress && (st.step % std::max(1, t.log_every) == 0 || st.step == end)) {
        double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
        double eta = elapsed / step_times.size() * (end - st.step);
        char line[256];
        std::snprintf(
            line, sizeof line, "step %d/%d | loss %.4f%s | lr %.2e | %.0f tok/s | mem %s | ETA %s",
            st.step, t.steps, r.loss,
            m.contains("val_loss") ? (" | val " + std::to_string(last_val).substr(0, 6)).c_str()
                                   : "",
            h.lr, tokens_per_step / r.seconds,
            format_bytes(session->arena().stats().peak_in_use).c_str(), hms(eta).c_str());
        if (tty)
          std::fprintf(stderr, "\r\033[K%s", line);
        else
          std::fprintf(stderr, "%s\n", line);
      }
      if (t.checkpoint_every > 0 && st.step % t.checkpoint_every == 0 && st.step < end) {
        save_checkpoint(opt.run_dir, cfg, session->spec(), session->states(), st);
        last_ckpt = st.step;
      }
    }
    if (tty) std::fprintf(stderr, "\n");
    if (st.step != last_ckpt || !fs::exists(opt.run_dir + "/checkpoints/latest"))
      save_checkpoint(opt.run_dir, cfg, session->spec(), session->states(), st);

    TrainSummary s;
    s.steps_done = st.step;
    s.final_loss = last_loss;
    s.best_loss = step_times.empty() ? 0 : best_loss;
    s.final_val_loss = last_val;
    std::vector<double> timed(step_times.size() > 1 ? step_times.begin() + 1 : step_times.begin(),
                              step_times.end());
    s.median_step_s = median(timed);
    s.tokens_per_s = s.median_step_s > 0 ? tokens_per_step / s.median_step_s : 0;
    s.peak_device_bytes = session->arena().stats().peak_in_use;
    nlohmann::json j = {{"job", cfg.name},
                        {"backend", backend_name(session->device().backend())},
                        {"device", session->device().name()},
                        {"params", session->spec().n_params},
                        {"steps", s.steps_done},
                        {"tokens_seen", st.tokens_seen},
                        {"final_loss", s.final_loss},
                        {"best_loss", s.best_loss},
                        {"final_val_loss", s.final_val_loss},
                        {"best_val_loss", st.best_val_loss},
                        {"tokens_per_s", s.tokens_per_s},
                        {"median_step_s", s.median_step_s},
                        {"mfu_flops_per_token", flops_per_token(session->spec(), t.seq_len)},
                        {"peak_device_bytes", s.peak_device_bytes},
                        {"plan", session->plan_json()}};
    if (markov) j["entropy_rate_nats"] = markov->entropy_rate_nats();
    j["activations"] = activations_json();
    // The threading environment the run had (mart sets OMP_WAIT_POLICY=PASSIVE when it is unset:
    // launcher/openmp_env.cpp); it changes throughput severalfold on a few cores.
    nlohmann::json env_j = nlohmann::json::object();
    for (const char* k : {"OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS"}) {
      const char* v = std::getenv(k);
      env_j[k] = v ? nlohmann::json(v) : nlohmann::json(nullptr);
    }
    j["environment"] = env_j;
    if (!session->planner().is_null()) j["planner"] = planner_report(s);
    s.summary_path = opt.run_dir + "/summary.json";
    write_text(s.summary_path, j.dump(2) + "\n");
    std::fprintf(
        stderr, "mart: done: %d steps, final loss %.4f, %.0f tokens/s, peak device memory %s\n",
        s.steps_done, s.final_loss, s.tokens_per_s, format_bytes(s.peak_device_bytes).c_str());
    return s;
  }
};

Trainer::Trainer(JobConfig cfg, TrainOptions opt)
    : impl_(std::make_unique<Impl>(std::move(cfg), std::move(opt))) {}
Trainer::~Trainer() = default;
TrainSummary Trainer::run() {
  return impl_->run();
}

}  // namespace mart
