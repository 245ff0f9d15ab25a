// Helpers for the config tests: field-by-field equality written out by hand (independent of the
// schema table in config_fields.cpp, so a field missing from that table fails the round trips),
// and "the error message this config produces".
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "config/config_loader.h"

namespace mart::test {

inline void expect_same_model(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.family, b.family);
  EXPECT_EQ(a.n_layer, b.n_layer);
  EXPECT_EQ(a.d_model, b.d_model);
  EXPECT_EQ(a.n_head, b.n_head);
  EXPECT_EQ(a.n_kv_head, b.n_kv_head);
  EXPECT_EQ(a.d_ff, b.d_ff);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.max_seq_len, b.max_seq_len);
  EXPECT_EQ(a.norm_eps, b.norm_eps);
  EXPECT_EQ(a.rope_theta, b.rope_theta);
  EXPECT_EQ(a.tied_embeddings, b.tied_embeddings);
  EXPECT_EQ(a.init_std, b.init_std);
}

inline void expect_same(const JobConfig& a, const JobConfig& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.backend, b.backend);
  expect_same_model(a.model, b.model);
  EXPECT_EQ(a.data.source, b.data.source);
  EXPECT_EQ(a.data.train_pattern, b.data.train_pattern);
  EXPECT_EQ(a.data.val_pattern, b.data.val_pattern);
  EXPECT_EQ(a.data.synthetic_vocab, b.data.synthetic_vocab);
  EXPECT_EQ(a.data.synthetic_order, b.data.synthetic_order);
  EXPECT_EQ(a.data.synthetic_branching, b.data.synthetic_branching);
  EXPECT_EQ(a.data.synthetic_seed, b.data.synthetic_seed);
  EXPECT_EQ(a.train.micro_batch, b.train.micro_batch);
  EXPECT_EQ(a.train.seq_len, b.train.seq_len);
  EXPECT_EQ(a.train.grad_accum, b.train.grad_accum);
  EXPECT_EQ(a.train.steps, b.train.steps);
  EXPECT_EQ(a.train.lr, b.train.lr);
  EXPECT_EQ(a.train.min_lr_ratio, b.train.min_lr_ratio);
  EXPECT_EQ(a.train.warmup_steps, b.train.warmup_steps);
  EXPECT_EQ(a.train.weight_decay, b.train.weight_decay);
  EXPECT_EQ(a.train.beta1, b.train.beta1);
  EXPECT_EQ(a.train.beta2, b.train.beta2);
  EXPECT_EQ(a.train.eps, b.train.eps);
  EXPECT_EQ(a.train.grad_clip, b.train.grad_clip);
  EXPECT_EQ(a.train.seed, b.train.seed);
  EXPECT_EQ(a.train.eval_every, b.train.eval_every);
  EXPECT_EQ(a.train.eval_batches, b.train.eval_batches);
  EXPECT_EQ(a.train.eval_sequences, b.train.eval_sequences);
  EXPECT_EQ(a.train.micro_batch_auto, b.train.micro_batch_auto);
  EXPECT_EQ(a.data.order, b.data.order);
  EXPECT_EQ(a.train.checkpoint_every, b.train.checkpoint_every);
  EXPECT_EQ(a.train.log_every, b.train.log_every);
  EXPECT_EQ(a.train.tensorboard, b.train.tensorboard);
  EXPECT_EQ(a.train.metrics_csv, b.train.metrics_csv);
  EXPECT_EQ(a.train.trace_step, b.train.trace_step);
  EXPECT_EQ(a.train.max_time, b.train.max_time);
  EXPECT_EQ(a.train.stop_signals, b.train.stop_signals);
  EXPECT_EQ(a.memory.device_capacity, b.memory.device_capacity);
  EXPECT_EQ(a.memory.mode, b.memory.mode);
  EXPECT_EQ(a.memory.n_persist, b.memory.n_persist);
  EXPECT_EQ(a.memory.n_buffer, b.memory.n_buffer);
  EXPECT_EQ(a.memory.chunk_size, b.memory.chunk_size);
  EXPECT_EQ(a.activations.modes, b.activations.modes);
  EXPECT_EQ(a.activations.counts[ActMode::Swap], b.activations.counts[ActMode::Swap]);
  EXPECT_EQ(a.activations.counts[ActMode::Checkpoint], b.activations.counts[ActMode::Checkpoint]);
  EXPECT_EQ(a.activations.counts[ActMode::Compress], b.activations.counts[ActMode::Compress]);
  EXPECT_EQ(a.activations.counts[ActMode::CompressSwap],
            b.activations.counts[ActMode::CompressSwap]);
  EXPECT_EQ(a.activations.eb, b.activations.eb);
  EXPECT_EQ(a.activations.adaptive_eb, b.activations.adaptive_eb);
  EXPECT_EQ(a.activations.payload_fraction, b.activations.payload_fraction);
}

// The mart::Error message that loading `yaml` (as "config.yaml") with `overrides` throws, or ""
// when it loads fine.
inline std::string load_error(const std::string& yaml,
                              const std::vector<std::string>& overrides = {}) {
  try {
    job_config_from_yaml_string(yaml, "config.yaml", overrides);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// The validate() message for `c`, or "" when it is valid.
inline std::string validate_error(const JobConfig& c) {
  try {
    validate(c);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace mart::test
