// Shared helpers for the integration tests: tiny job configs for both model families, a scratch
// directory per test, metrics.jsonl reading, file hashing, running the `mart` binary, and an
// executor "rig" (device, ops, arena, states, executor built exactly as the Trainer builds them).
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.h"
#include "config/config_loader.h"
#include "device/device.h"
#include "memory/device_arena.h"
#include "runtime/backend.h"
#include "runtime/executor.h"
#include "runtime/memory_budget.h"
#include "runtime/model/init.h"
#include "runtime/model/model_spec.h"
#include "runtime/model/model_states.h"
#include "runtime/trainer.h"
#include "tests/common/executor_rig.h"
#include "tests/common/test_util.h"

namespace mart::integ {

namespace fs = std::filesystem;

inline const char* family_tag(ModelFamily f) {
  return f == ModelFamily::GPT2 ? "gpt2" : "llama";
}

// A two-block model small enough that a training step takes about a millisecond on one core.
// Llama uses grouped-query attention (4 query heads, 2 kv heads) so GQA is on the tested path.
inline ModelConfig tiny_model(ModelFamily f, int d_model = 32) {
  ModelConfig m;
  m.family = f;
  m.n_layer = 2;
  m.d_model = d_model;
  m.n_head = 4;
  m.n_kv_head = f == ModelFamily::GPT2 ? 4 : 2;
  m.d_ff = f == ModelFamily::GPT2 ? 4 * d_model : 2 * d_model;
  m.vocab_size = 32;  // the default synthetic corpus has 32 symbols
  m.max_seq_len = 32;
  m.tied_embeddings = f == ModelFamily::GPT2;
  return m;
}

// The default job (synthetic Markov corpus, default optimizer) shrunk to a tiny model and a
// handful of steps.
inline JobConfig tiny_job(ModelFamily f, int steps = 8) {
  JobConfig c;
  c.name = std::string("integ-") + family_tag(f);
  c.model = tiny_model(f);
  c.train.micro_batch = 2;
  c.train.seq_len = 16;
  c.train.steps = steps;
  c.train.warmup_steps = 2;
  c.train.eval_every = 0;
  c.train.eval_batches = 2;
  validate(c);
  return c;
}

using testutil::error_of;
using testutil::has;
using testutil::read_all;
using testutil::TempDir;
using testutil::write_all;

// Every line of RUN/metrics.jsonl.
inline std::vector<nlohmann::json> read_metrics(const std::string& run_dir) {
  std::ifstream in(run_dir + "/metrics.jsonl");
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

inline std::vector<double> losses_of(const std::vector<nlohmann::json>& metrics) {
  std::vector<double> out;
  for (const auto& m : metrics) out.push_back(m.at("loss").get<double>());
  return out;
}

// (step, val_loss) of every evaluation step.
inline std::vector<std::pair<int, double>> val_losses_of(const std::vector<nlohmann::json>& m) {
  std::vector<std::pair<int, double>> out;
  for (const auto& j : m)
    if (j.contains("val_loss"))
      out.emplace_back(j.at("step").get<int>(), j.at("val_loss").get<double>());
  return out;
}

// FNV-1a of a byte string; enough to notice any change to a file.
inline uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
  return h;
}

// Relative path -> (size, hash) of every regular file under `dir`: equal maps mean byte-identical
// trees (and no file added or removed). RUN/.lock is left out: every invocation records itself
// there (runtime/run_dir.h), even one that then fails.
inline std::map<std::string, std::pair<uint64_t, uint64_t>> tree_hash(const std::string& dir) {
  std::map<std::string, std::pair<uint64_t, uint64_t>> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename() != ".lock") {
      std::string bytes = read_all(e.path().string());
      out[fs::relative(e.path(), dir).string()] = {bytes.size(), fnv1a(bytes)};
    }
  return out;
}

struct CmdResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr interleaved
};

// Runs a shell command line, capturing stdout+stderr.
inline CmdResult run_cmd(const std::string& cmd) {
  CmdResult r;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// The launcher, with one compute thread (see threads_env.cpp for why).
inline std::string mart_bin() {
  return "env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 " MART_BINARY_DIR "/mart";
}

// Single-quoted for the shell.
inline std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

inline TrainSummary train(const JobConfig& cfg, const std::string& run_dir, int stop_after = -1,
                          bool resume = false) {
  TrainOptions o;
  o.run_dir = run_dir;
  o.stop_after = stop_after;
  o.resume = resume;
  o.progress = false;
  return Trainer(cfg, o).run();
}

inline std::string latest_dir(const std::string& run_dir) {
  std::string name = read_all(run_dir + "/checkpoints/latest");
  while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
  return run_dir + "/checkpoints/" + name;
}

using Rig = testutil::ExecutorRig;

// A deterministic pseudo-random micro-batch (a simple LCG; the values only need to be fixed).
inline MicroBatch random_batch(int B, int T, int vocab, uint64_t seed) {
  MicroBatch mb;
  mb.inputs.resize(static_cast<size_t>(B) * T);
  mb.targets.resize(mb.inputs.size());
  uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
  auto next = [&] {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<int32_t>((s >> 33) % static_cast<uint64_t>(vocab));
  };
  for (size_t i = 0; i < mb.inputs.size(); ++i) mb.inputs[i] = next();
  for (size_t i = 0; i < mb.targets.size(); ++i) mb.targets[i] = next();
  return mb;
}

// Bitwise equality of float vectors (distinguishes -0/+0 and NaN payloads, unlike ==).
inline bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace mart::integ
