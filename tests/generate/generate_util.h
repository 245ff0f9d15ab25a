// Helpers for the generation tests: a tiny model of either family in one Session that has both the
// training executor (the full-forward reference, batch 1 over the whole context) and the
// generation buffers (the KV-cache path), so both read the same weights.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "config/config_validate.h"
#include "runtime/generate/decoder.h"
#include "runtime/generate/generator.h"
#include "runtime/session.h"
#include "tests/common/test_util.h"

namespace mart::gentest {

using testutil::error_of;
using testutil::has;

inline const char* family_tag(ModelFamily f) {
  return f == ModelFamily::GPT2 ? "gpt2" : "llama";
}

// Two blocks, width 64, GQA for Llama (4 query heads, 2 kv heads); vocab 256 so the byte
// tokenizer's ids fit; context 32.
inline JobConfig tiny_gen_job(ModelFamily f, int context = 32) {
  JobConfig c;
  c.name = std::string("gen-") + family_tag(f);
  c.backend = "cpu";
  c.model.family = f;
  c.model.n_layer = 2;
  c.model.d_model = 64;
  c.model.n_head = 4;
  c.model.n_kv_head = f == ModelFamily::GPT2 ? 4 : 2;
  c.model.d_ff = f == ModelFamily::GPT2 ? 256 : 128;
  c.model.vocab_size = 256;
  c.model.max_seq_len = context;
  c.model.tied_embeddings = f == ModelFamily::GPT2;
  c.train.micro_batch = 1;
  c.train.seq_len = context;
  c.train.warmup_steps = 1;
  c.train.eval_every = 0;
  return c;
}

// chunk < the prompt length makes the prompt run in several pieces.
inline std::unique_ptr<Session> gen_session(ModelFamily f, int chunk = 8, uint64_t seed = 7) {
  SessionOptions o;
  o.generation = GenerationShape{1, 0, chunk};
  auto s = std::make_unique<Session>(tiny_gen_job(f), o);
  s->init_weights(seed);
  return s;
}

// `job` with every chunk offloaded (uploaded on demand into 8 device buffers of 64 KiB chunks),
// forward only, with generation buffers of `shape`: how a frozen or streamed model generates.
inline std::unique_ptr<Session> offloaded_gen_session(JobConfig job, GenerationShape shape,
                                                      uint64_t seed = 7) {
  job.memory.mode = "manual";
  job.memory.n_persist = 0;
  job.memory.n_buffer = 8;
  job.memory.chunk_size = 64 << 10;
  SessionOptions so;
  so.executor = false;
  so.host.pin = PinMode::kOff;  // tests need no locked memory
  so.generation = shape;
  auto s = std::make_unique<Session>(job, so);
  s->init_weights(seed);
  return s;
}

// Logits [V] of the last position of `seq` by the training forward over the whole context (the
// rest of the row padded with token 0: attention is causal, so padding does not reach it).
inline std::vector<float> full_forward_last(Session& s, const std::vector<int32_t>& seq) {
  const int T = s.config().train.seq_len, V = s.spec().cfg.vocab_size;
  MicroBatch mb;
  mb.inputs.assign(T, 0);
  mb.targets.assign(T, -1);
  std::copy(seq.begin(), seq.end(), mb.inputs.begin());
  std::vector<float> all;
  s.executor().forward_logits(mb, &all);
  const size_t at = (seq.size() - 1) * static_cast<size_t>(V);
  return std::vector<float>(all.begin() + at, all.begin() + at + V);
}

inline float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

inline std::vector<int32_t> lcg_prompt(int n, int vocab, uint64_t seed) {
  std::vector<int32_t> p(n);
  for (int i = 0; i < n; ++i) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    p[i] = static_cast<int32_t>((seed >> 33) % vocab);
  }
  return p;
}

}  // namespace mart::gentest
