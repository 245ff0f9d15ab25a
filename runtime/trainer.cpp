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
#include "common/progress_line.h"
#include "common/step_timeline.h"
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
#include "runtime/evaluation.h"
#include "runtime/lr_schedule.h"
#include "runtime/metrics_log.h"
#include "runtime/preemption.h"
#include "runtime/run_dir.h"
#include "runtime/run_metrics.h"
#include "runtime/session.h"

namespace fs = std::filesystem;

namespace mart {
namespace {

void write_text(const std::string& path, const std::string& s) {
  write_file_atomic(path, s.data(), s.size());
}

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

std::string default_run_dir(const std::string& parent, const std::string& job) {
  // The job name is validated with the config; this guards the path itself, whoever calls it.
  MART_CHECK(!job.empty() && job != "." && job != ".." && job.find('/') == std::string::npos &&
                 job.find('\0') == std::string::npos,
             "job name '", job, "' cannot name a run directory under '", parent,
             "': it must be a plain name without '/' (and not '.' or '..'); set `name:` in the ",
             "config or pass --run-dir");
  std::time_t now = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d_%H-%M-%S", std::localtime(&now));
  std::string base = parent + "/" + buf + "_" + job, dir = base;
  for (int i = 1; fs::exists(dir); ++i) dir = base + "-" + std::to_string(i);
  MART_CHECK(fs::path(dir).lexically_normal().parent_path() ==
                 fs::path(parent + "/").lexically_normal().parent_path(),
             "run directory '", dir, "' would not be directly under '", parent,
             "'; pass --run-dir");
  return dir;
}

struct Trainer::Impl {
  JobConfig cfg;
  TrainOptions opt;
  std::unique_ptr<RunDirLock> lock;  // first member: released last
  std::unique_ptr<Session> session;  // device, ops, arena, model states, executor
  std::shared_ptr<const MarkovSource> markov;
  std::unique_ptr<DataLoader> train_data, val_data;
  TrainState st;
  DeadlineGuard deadline;
  std::string ckpt;              // resume: the checkpoint it continues from
  SavedTrainerState ckpt_saved;  // and what its verification read
  uint64_t eval_sequences = 0;   // per validation, fixed before any plan changes micro_batch

  double now() const { return opt.clock ? opt.clock() : steady_seconds(); }

  Impl(JobConfig c, TrainOptions o) : cfg(std::move(c)), opt(std::move(o)) {
    MART_CHECK(!opt.run_dir.empty(), "trainer: a run directory is required");
    MART_CHECK(opt.stop_after >= -1, "--stop-after ", opt.stop_after,
               ": must be >= 0 (the steps this invocation trains before saving a checkpoint)");
    MART_CHECK(!(opt.resume && opt.overwrite),
               "--resume continues the run in its directory and --overwrite deletes it; pass one");
    MART_CHECK(opt.resume || !opt.extend,
               "--extend continues a finished run: pass it with --resume RUN");
    const double t0 = now();
    if (opt.resume)
      MART_CHECK(fs::is_directory(opt.run_dir), "--resume ", opt.run_dir,
                 ": no such run directory, so no checkpoint to resume");
    // An existing directory is locked (and its policy checked) before the expensive setup; a new
    // one only after it, so a failed start leaves no directory behind.
    if (fs::exists(opt.run_dir)) take_run_dir();
    clamp_warmup();
    eval_sequences = static_cast<uint64_t>(std::max(0, validation_sequences(cfg.train)));
    SessionOptions so;
    so.auto_planner = opt.auto_planner;
    session = std::make_unique<Session>(cfg, std::move(so));
    cfg = session->config();  // memory.mode auto: the plan

    JobData data = make_job_data(cfg);
    markov = std::move(data.markov);
    train_data = std::move(data.train);
    val_data = std::move(data.val);
    fit_eval_to_validation_set();

    double load_s = 0;
    if (opt.resume) {
      const double t = now();
      // Verified under the lock by take_run_dir, so not checksummed a second time.
      st = load_verified_checkpoint(ckpt, ckpt_saved, session->spec(), session->states());
      load_s = now() - t;
      train_data->restore(st.loader);
      check_not_finished();
    } else if (!opt.init_from.empty()) {
      std::string path = opt.init_from;
      if (fs::is_directory(path)) path += "/model.safetensors";
      load_hf_weights(session->spec(), session->states(), path);
    } else {
      session->init_weights(cfg.train.seed);
    }
    // A run stopped before its first step saves where the loader starts (its order included).
    if (!opt.resume) st.loader = train_data->state();
    if (!lock) take_run_dir();
    double limit = max_time_seconds(cfg.train.max_time);
    if (opt.time_limit_s > 0)
      limit = limit > 0 ? std::min(limit, opt.time_limit_s) : opt.time_limit_s;
    if (limit > 0) deadline = DeadlineGuard(t0 + limit);
    deadline.checkpoint_took(load_s);  // reading a checkpoint: the first estimate of writing one
  }

  // warmup_steps longer than the run (e.g. --set train.steps=5 on a job warming up for 10): the
  // warmup ends with the run, so the last step trains at the peak lr.
  void clamp_warmup() {
    auto& t = cfg.train;
    if (t.warmup_steps <= t.steps || t.steps == 0) return;  // steps 0: nothing to warm up
    std::fprintf(stderr,
                 "mart: note: train.warmup_steps = %d exceeds train.steps = %d; warming up over "
                 "all %d steps instead\n",
                 t.warmup_steps, t.steps, t.steps);
    t.warmup_steps = t.steps;
  }

  // The validation set is fixed and read from its start: more sequences than it holds would
  // count some twice, so the evaluation covers each window once.
  void fit_eval_to_validation_set() {
    if (!val_data) return;
    const uint64_t windows = val_data->windows_per_epoch();  // 0: unbounded (synthetic)
    if (windows == 0 || eval_sequences <= windows) return;
    std::fprintf(stderr,
                 "mart: note: %llu validation sequences asked for, but the validation data holds "
                 "%llu windows of %d tokens; evaluating all %llu\n",
                 static_cast<unsigned long long>(eval_sequences),
                 static_cast<unsigned long long>(windows), cfg.train.seq_len,
                 static_cast<unsigned long long>(windows));
    eval_sequences = windows;
  }

  // Takes RUN/.lock for the life of the run, then applies the run-directory policy under it: a
  // resume needs a checkpoint with the same schedule; a fresh run needs an empty directory (or
  // --overwrite).
  void take_run_dir() {
    lock = std::make_unique<RunDirLock>(opt.run_dir);
    // Under the lock, every temporary left in checkpoints/ is a killed save's.
    for (const std::string& n : remove_stale_checkpoint_temporaries(opt.run_dir))
      std::fprintf(stderr, "mart: removed %s/checkpoints/%s, left by a killed save\n",
                   opt.run_dir.c_str(), n.c_str());
    if (opt.resume) {
      // The checkpoint's config is the run's config; explicit settings were applied by the caller.
      // Fails early and clearly when there is nothing intact to resume.
      const CheckpointChoice choice = newest_intact_checkpoint(opt.run_dir);
      for (const std::string& why : choice.skipped)
        std::fprintf(stderr, "mart: skipping damaged checkpoint %s\n", why.c_str());
      std::fprintf(stderr, "mart: resuming from %s\n", choice.dir.c_str());
      ckpt = choice.dir;
      ckpt_saved = choice.saved;
      check_schedule_unchanged(ckpt_saved.config);
    } else {
      prepare_fresh_run_dir(opt.run_dir, opt.overwrite);
    }
  }

  // A changed train.steps changes the cosine schedule of every remaining step, so the resumed run
  // would silently differ from the run it continues; only --extend says that is wanted.
  void check_schedule_unchanged(const JobConfig& saved) {
    const int was = saved.train.steps, now_steps = cfg.train.steps;
    MART_CHECK(was == now_steps || opt.extend, "--resume ", opt.run_dir,
               ": train.steps = ", now_steps, " differs from the run's train.steps = ", was,
               ", which changes its cosine learning-rate schedule (the resumed run would no longer "
               "match the run it continues). To train to ",
               now_steps,
               " steps on a schedule stretched to them, add --extend; to continue the same run, "
               "drop --set train.steps");
  }

  void check_not_finished() {
    const int steps = cfg.train.steps;
    if (opt.extend) {
      MART_CHECK(steps > st.step, "--extend: train.steps = ", steps,
                 " does not go beyond the checkpoint's step ", st.step,
                 "; pass --set train.steps=N", " with N > ", st.step);
      return;
    }
    // Killed between its final checkpoint and summary.json: the resume trains nothing and writes
    // the summary from metrics.jsonl, so a finished run always ends with one.
    if (st.step >= steps && !fs::exists(opt.run_dir + "/summary.json")) {
      std::fprintf(stderr,
                   "mart: the run finished at step %d but has no summary.json (stopped before "
                   "writing it); writing it from metrics.jsonl\n",
                   st.step);
      return;
    }
    MART_CHECK(
        st.step < steps, "--resume ", opt.run_dir, ": the run is finished (its checkpoint is",
        " at step ", st.step, " of train.steps = ", steps, "). To train further, pass --extend ",
        "--set train.steps=N with N > ", st.step, " (the cosine schedule is stretched to N); ",
        "to start again, run its config with --overwrite");
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

  // The same validation sequences every time, whatever the plan's micro-batch
  // (runtime/evaluation.h); adds val_loss, val_sequences, val_tokens to the metrics line `m`.
  void evaluate_into(nlohmann::json& m) {
    val_data->reset();
    // [eval] 64/256 sequences | ETA 0:00:03, erased on a TTY when done (the [train] line resumes).
    ProgressOptions po = ProgressOptions::when(opt.progress);
    po.keep_on_finish = false;
    ProgressPrinter bar("eval", eval_sequences, ProgressFormat::items("sequences"), po);
    const EvalResult r = evaluate_sequences(*session, *val_data, eval_sequences,
                                            [&bar](uint64_t done, uint64_t) { bar.update(done); });
    bar.finish();
    m["val_loss"] = r.loss;
    m["val_sequences"] = r.sequences;
    m["val_tokens"] = r.tokens;
    if (st.best_val_loss == 0 || r.loss < st.best_val_loss) st.best_val_loss = r.loss;
    last_eval = r;
  }
  EvalResult last_eval;

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

  void print_header() {
    std::fprintf(stderr,
                 "mart: %s | %s backend | %s model, %.2fM params | device budget %s | run %s\n",
                 cfg.name.c_str(), backend_name(session->device().backend()),
                 family_name(cfg.model.family), session->spec().n_params / 1e6,
                 format_bytes(session->device_budget_bytes()).c_str(), opt.run_dir.c_str());
    std::fprintf(stderr, "mart: data order %s", cfg.data.order.c_str());
    if (val_data && eval_sequences > 0)
      std::fprintf(stderr, "; validation: %llu sequences x %d tokens = %llu tokens",
                   static_cast<unsigned long long>(eval_sequences), cfg.train.seq_len,
                   static_cast<unsigned long long>(eval_sequences * cfg.train.seq_len));
    std::fprintf(stderr, "\n");
    if (markov)
      std::fprintf(stderr,
                   "mart: synthetic Markov corpus, entropy rate %.4f nats/token (the "
                   "best achievable loss)\n",
                   markov->entropy_rate_nats());
    if (deadline.active())
      std::fprintf(stderr, "mart: time limit: stops with a checkpoint before %s from now\n",
                   format_eta(deadline.deadline() - now()).c_str());
  }

  // Writes a checkpoint of the current step, metrics first made durable up to it; timed for the
  // deadline's margin.
  std::string checkpoint(MetricsLog& metrics) {
    metrics.sync();
    const double t = now();
    // [checkpoint] 1.20 GiB/3.10 GiB | 410.00 MiB/s | ETA 0:00:05
    ProgressOptions po = ProgressOptions::when(opt.progress);
    po.keep_on_finish = false;
    ProgressPrinter bar("checkpoint", 0, ProgressFormat::bytes(), po);
    std::string dir =
        save_checkpoint(opt.run_dir, cfg, session->spec(), session->states(), st,
                        kDefaultKeepCheckpoints, [&bar](uint64_t done, uint64_t total) {
                          bar.set_total(total);
                          bar.update(done);
                        });
    bar.finish();
    deadline.checkpoint_took(now() - t);
    return dir;
  }

  // A metrics write failed (disk full): save what was trained, then stop with both outcomes.
  [[noreturn]] void fail_after_write_error(const Error& e) {
    std::string outcome;
    try {
      const std::string dir = save_checkpoint(opt.run_dir, cfg, session->spec(), session->states(),
                                              st, kDefaultKeepCheckpoints);
      outcome = str("a checkpoint of step ", st.step, " was saved (", dir, "). Free space, then ",
                    "resume with `mart train --resume ", opt.run_dir, "`");
    } catch (const std::exception& c) {
      outcome =
          str("the checkpoint attempt failed too (", c.what(), "). Free space, then resume ",
              "from the newest intact checkpoint with `mart train --resume ", opt.run_dir, "`");
    }
    MART_FAIL(e.what(), "; training stopped at step ", st.step, ": ", outcome);
  }

  struct LoopResult {
    StopReason stop = StopReason::Finished;
    int signal = 0;
    int steps = 0;
    int last_ckpt = 0;
  };

  double tokens_per_step() const {
    return static_cast<double>(cfg.train.micro_batch) * cfg.train.seq_len * cfg.train.grad_accum;
  }

  // RUN/timeline.json (train.trace_step), atomically. A diagnostic: a failed write is reported and
  // training goes on (a full disk stops the run at its next metrics line anyway).
  void write_timeline(const StepTimeline& timeline) {
    try {
      write_text(opt.run_dir + "/timeline.json", timeline_to_json(timeline).dump(1) + "\n");
    } catch (const Error& e) {
      std::fprintf(stderr, "mart: warning: timeline.json of step %d not written: %s\n",
                   timeline.step, e.what());
    }
  }

  // One optimizer step (and the evaluation due after it); returns its metrics line.
  nlohmann::json train_one_step() {
    const auto& t = cfg.train;
    StepHyper h;
    h.lr = lr_at(t, st.step);
    h.beta1 = t.beta1;
    h.beta2 = t.beta2;
    h.eps = t.eps;
    h.weight_decay = t.weight_decay;
    h.grad_clip = t.grad_clip;
    h.step = st.step + 1;
    StepTimeline timeline;
    const bool traced = t.trace_step > 0 && st.step + 1 == t.trace_step;
    StepResult r = session->train_step(next_step_batches(), h, traced ? &timeline : nullptr);
    ++st.step;
    if (traced) write_timeline(timeline);
    st.tokens_seen += r.tokens;
    st.loader = train_data->state();
    nlohmann::json m = {{"step", st.step},
                        {"loss", r.loss},
                        {"lr", h.lr},
                        {"grad_norm", r.grad_norm},
                        {"step_s", r.seconds},
                        {"tokens_per_s", tokens_per_step() / r.seconds},
                        {"peak_device_bytes", session->arena().stats().peak_in_use},
                        {"tokens", st.tokens_seen}};
    const bool eval_now = t.eval_every > 0 && (st.step % t.eval_every == 0 || st.step == t.steps);
    if (eval_now && val_data && eval_sequences > 0) evaluate_into(m);
    return m;
  }

  // The [train] line's text after "step N/M": loss, validation loss, lr, throughput, memory.
  std::string step_text(const nlohmann::json& m) const {
    char line[256];
    const std::string val =
        m.contains("val_loss")
            ? " | val " + std::to_string(m["val_loss"].get<double>()).substr(0, 6)
            : "";
    std::snprintf(line, sizeof line, "loss %.4f%s | lr %.2e | %.0f tok/s | mem %s",
                  m["loss"].get<double>(), val.c_str(), m["lr"].get<double>(),
                  m["tokens_per_s"].get<double>(),
                  format_bytes(session->arena().stats().peak_in_use).c_str());
    return line;
  }

  LoopResult train_loop(MetricsLog& metrics) {
    const auto& t = cfg.train;
    // [train] step 40/200 | loss ... | ETA 0:01:12: every log_every steps (plain lines are not
    // thinned further: log_every is the user's choice), the ETA from this invocation's rate.
    ProgressOptions po = ProgressOptions::when(opt.progress);
    po.plain_every_s = 0;
    ProgressPrinter bar("train", static_cast<uint64_t>(t.steps), ProgressFormat::items("", "step "),
                        po, static_cast<uint64_t>(st.step));
    LoopResult res;
    res.last_ckpt = st.step;
    const int end = opt.stop_after >= 0 ? std::min(t.steps, st.step + opt.stop_after) : t.steps;
    if (end < t.steps) res.stop = StopReason::StopAfter;
    while (st.step < end) {
      // Checked between steps: the step in flight always completes with its metrics line.
      if (opt.stop_flag && opt.stop_flag->load() != 0) {
        res.stop = StopReason::Signal;
        res.signal = opt.stop_flag->load();
        break;
      }
      if (deadline.must_stop(now())) {
        res.stop = StopReason::TimeLimit;
        break;
      }
      const double t_iter = now();
      const nlohmann::json m = train_one_step();
      ++res.steps;
      try {
        metrics.append(m);
      } catch (const Error& e) {
        fail_after_write_error(e);
      }
      if (opt.on_step) opt.on_step(st.step);
      deadline.step_took(now() - t_iter);
      if (opt.progress && (st.step % std::max(1, t.log_every) == 0 || st.step == end))
        bar.update(static_cast<uint64_t>(st.step), step_text(m));
      if (t.checkpoint_every > 0 && st.step % t.checkpoint_every == 0 && st.step < end) {
        try {
          checkpoint(metrics);
        } catch (const Error& e) {
          // A periodic checkpoint that cannot be written (disk full) stops the run; the
          // previous checkpoint is intact.
          MART_FAIL(e.what(), "; training stopped at step ", st.step, " (the newest intact ",
                    "checkpoint is at step ", res.last_ckpt, "): free space, then `mart train ",
                    "--resume ", opt.run_dir, "`");
        }
        res.last_ckpt = st.step;
      }
    }
    bar.finish();
    return res;
  }

  // What happened and, for an early stop, how to continue.
  void report_stop(const LoopResult& res, const std::string& ckpt) {
    const std::string resume = str("resume with: mart train --resume ", opt.run_dir);
    const std::string where = ckpt.empty() ? "" : " (checkpoint " + ckpt + ")";
    switch (res.stop) {
      case StopReason::Finished:
        break;
      case StopReason::StopAfter:
        std::fprintf(stderr,
                     "mart: stopped after %d steps of this invocation at step %d of %d%s; %s\n",
                     res.steps, st.step, cfg.train.steps, where.c_str(), resume.c_str());
        break;
      case StopReason::Signal:
        std::fprintf(stderr, "mart: stopped by %s at step %d of %d%s; %s\n",
                     stop_signal_name(res.signal).c_str(), st.step, cfg.train.steps, where.c_str(),
                     resume.c_str());
        break;
      case StopReason::TimeLimit:
        std::fprintf(stderr,
                     "mart: stopped at step %d of %d to finish before the time limit (%s left, "
                     "margin %.1f s for a step and a checkpoint)%s; %s\n",
                     st.step, cfg.train.steps,
                     format_eta(std::max(0.0, deadline.deadline() - now())).c_str(),
                     deadline.margin(), where.c_str(), resume.c_str());
        break;
    }
  }

  // train.steps = 0: evaluate the weights (initialised, --init-from or resumed) on the validation
  // set and write metrics.jsonl (one line, step 0) and summary.json; no checkpoint (nothing
  // trained).
  TrainSummary evaluate_only() {
    MART_CHECK(val_data && eval_sequences > 0, "train.steps = 0 only evaluates, but the job has ",
               val_data ? "train.eval_sequences = 0" : "no validation data",
               ": set data.val_pattern (or use the synthetic source) and train.eval_sequences > 0");
    write_text(opt.run_dir + "/config.yaml", to_yaml(cfg));
    print_header();
    nlohmann::json m = {{"step", 0}};
    evaluate_into(m);
    m["val_perplexity"] = last_eval.perplexity();
    m["peak_device_bytes"] = session->arena().stats().peak_in_use;
    MetricsLog metrics(opt.run_dir, /*resume=*/false, 0, opt.metrics_write,
                       {cfg.train.tensorboard, cfg.train.metrics_csv});
    metrics.append(m);
    metrics.sync();
    TrainSummary s;
    s.final_val_loss = last_eval.loss;
    s.peak_device_bytes = session->arena().stats().peak_in_use;
    s.summary_path = opt.run_dir + "/summary.json";
    const nlohmann::json j = {{"job", cfg.name},
                              {"backend", backend_name(session->device().backend())},
                              {"device", session->device().name()},
                              {"params", session->spec().n_params},
                              {"steps", 0},
                              {"final_val_loss", last_eval.loss},
                              {"val_perplexity", last_eval.perplexity()},
                              {"val_sequences", last_eval.sequences},
                              {"val_tokens", last_eval.tokens},
                              {"peak_device_bytes", s.peak_device_bytes},
                              {"plan", session->plan_json()}};
    write_text(s.summary_path, j.dump(2) + "\n");
    std::fprintf(stderr,
                 "mart: evaluated (train.steps = 0): val loss %.4f, perplexity %.3f over %llu "
                 "sequences, %llu tokens\n",
                 last_eval.loss, last_eval.perplexity(),
                 static_cast<unsigned long long>(last_eval.sequences),
                 static_cast<unsigned long long>(last_eval.tokens));
    return s;
  }

  TrainSummary run() {
    if (cfg.train.steps == 0 && !opt.resume) return evaluate_only();
    write_text(opt.run_dir + "/config.yaml", to_yaml(cfg));
    MetricsLog metrics(opt.run_dir, opt.resume, st.step, opt.metrics_write,
                       {cfg.train.tensorboard, cfg.train.metrics_csv});
    print_header();
    LoopResult res = train_loop(metrics);
    std::string ckpt;
    if (st.step != res.last_ckpt || !fs::exists(opt.run_dir + "/checkpoints/latest")) {
      try {
        ckpt = checkpoint(metrics);
      } catch (const Error& e) {
        MART_FAIL(e.what(), "; the final checkpoint of step ", st.step, " was not saved: free ",
                  "space, then resume from the newest intact one with `mart train --resume ",
                  opt.run_dir, "`");
      }
    }
    TrainSummary s = summarize(res, metrics.jsonl_path());
    report_stop(res, ckpt);
    return s;
  }

  // summary.json from every line of metrics.jsonl; an invocation that trained no step leaves an
  // existing summary as it was.
  TrainSummary summarize(const LoopResult& res, const std::string& metrics_path) {
    const auto& t = cfg.train;
    const MetricsTotals tot = metrics_totals(metrics_path);
    TrainSummary s;
    s.steps_done = st.step;
    s.steps_this_run = res.steps;
    s.stop = res.stop;
    s.stop_signal = res.signal;
    s.final_loss = tot.final_loss;
    s.best_loss = tot.best_loss;
    s.final_val_loss = tot.final_val_loss;
    s.median_step_s = tot.median_step_s;
    s.tokens_per_s = s.median_step_s > 0 ? tokens_per_step() / s.median_step_s : 0;
    s.peak_device_bytes = std::max(tot.peak_device_bytes, session->arena().stats().peak_in_use);
    s.summary_path = opt.run_dir + "/summary.json";
    if (res.steps == 0 && fs::exists(s.summary_path)) {
      std::fprintf(stderr, "mart: no step trained; %s left as it was\n", s.summary_path.c_str());
      return s;
    }
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
                        {"val_sequences", val_data ? eval_sequences : 0},
                        {"val_tokens", val_data ? eval_sequences * cfg.train.seq_len : 0},
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
    try {
      write_text(s.summary_path, j.dump(2) + "\n");
    } catch (const Error& e) {
      MART_FAIL(
          e.what(), "; the checkpoint of step ", st.step, " and metrics.jsonl are saved, ",
          "only the summary is stale: free space; the next invocation that trains rewrites it");
    }
    if (res.stop == StopReason::Finished)
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
