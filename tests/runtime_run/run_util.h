// Helpers for the run-lifecycle tests: a tiny job that trains in milliseconds, a Trainer call with
// the options these tests vary, and metrics.jsonl as exact doubles.
#pragma once
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/config_validate.h"
#include "runtime/trainer.h"
#include "tests/common/test_util.h"

namespace mart::run_test {

using testutil::error_of;
using testutil::has;
using testutil::read_all;
using testutil::TempDir;
using testutil::write_all;

// A two-block Llama on the default synthetic corpus: about a millisecond a step on one core.
inline JobConfig tiny_job(int steps = 10) {
  JobConfig c;
  c.name = "run-test";
  c.model.n_layer = 2;
  c.model.d_model = 32;
  c.model.n_head = 4;
  c.model.n_kv_head = 2;
  c.model.d_ff = 64;
  c.model.vocab_size = 32;
  c.model.max_seq_len = 32;
  c.train.micro_batch = 2;
  c.train.seq_len = 16;
  c.train.steps = steps;
  c.train.warmup_steps = 2;
  c.train.eval_every = 0;
  validate(c);
  return c;
}

inline TrainOptions options(const std::string& run_dir) {
  TrainOptions o;
  o.run_dir = run_dir;
  o.progress = false;
  return o;
}

inline TrainSummary train(const JobConfig& cfg, const TrainOptions& o) {
  return Trainer(cfg, o).run();
}

inline std::vector<nlohmann::json> metrics_of(const std::string& run_dir) {
  std::ifstream in(run_dir + "/metrics.jsonl");
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

// The losses exactly as written (nlohmann round-trips doubles), in step order.
inline std::vector<double> losses_of(const std::string& run_dir) {
  std::vector<double> out;
  for (const auto& m : metrics_of(run_dir)) out.push_back(m.at("loss").get<double>());
  return out;
}

// Bitwise equality of two loss curves (== would call -0 and +0 equal).
inline bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

inline std::string latest_name(const std::string& run_dir) {
  std::string s = read_all(run_dir + "/checkpoints/latest");
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace mart::run_test
