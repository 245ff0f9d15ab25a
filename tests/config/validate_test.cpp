// validate(): each impossible setting produces its own message naming the field and why.
#include <gtest/gtest.h>

#include <functional>
#include <limits>

#include "config_test_util.h"

namespace mart {
namespace {

// Applies `edit` to the defaults and returns validate()'s message.
std::string problem(const std::function<void(JobConfig&)>& edit) {
  JobConfig c;
  edit(c);
  return test::validate_error(c);
}

#define EXPECT_PROBLEM(edit, sub)                           \
  do {                                                      \
    std::string msg_ = problem([](JobConfig& c) { edit; }); \
    EXPECT_NE(msg_.find(sub), std::string::npos) << msg_;   \
  } while (0)

TEST(ConfigValidate, Backend) {
  EXPECT_PROBLEM(c.backend = "tpu", "backend = 'tpu': unknown; use one of cpu, cuda, auto");
  EXPECT_PROBLEM(c.name = "", "name is empty");
}

TEST(ConfigValidate, ModelShape) {
  EXPECT_PROBLEM(c.model.n_layer = 0, "model.n_layer = 0: must be at least 1");
  EXPECT_PROBLEM(c.model.d_model = -4, "model.d_model = -4: must be at least 1");
  EXPECT_PROBLEM(c.model.d_ff = 0, "model.d_ff = 0");
  EXPECT_PROBLEM(c.model.vocab_size = 0, "model.vocab_size = 0");
  EXPECT_PROBLEM(c.model.max_seq_len = 0, "model.max_seq_len = 0");
  EXPECT_PROBLEM(c.model.norm_eps = 0, "model.norm_eps = 0: must be > 0");
  EXPECT_PROBLEM(c.model.init_std = 0, "model.init_std = 0: must be > 0");
  EXPECT_PROBLEM(c.model.rope_theta = 0, "model.rope_theta = 0: must be > 0");
  EXPECT_PROBLEM(c.model.n_head = 7, "model.n_head = 7 does not divide model.d_model = 256");
  EXPECT_PROBLEM(c.model.n_kv_head = 3, "model.n_kv_head = 3 does not divide model.n_head = 8");
  // d_model 24 / 8 heads = 3 channels per head: RoPE needs pairs.
  EXPECT_PROBLEM((c.model.d_model = 24, c.model.n_head = 8),
                 "model.d_model / model.n_head = 3 is odd");
}

TEST(ConfigValidate, Gpt2Rules) {
  EXPECT_PROBLEM((c.model = model_preset("tiny-gpt2"), c.model.n_kv_head = 2),
                 "GPT-2 has no grouped-query attention; set n_kv_head to 4");
  EXPECT_PROBLEM((c.model = model_preset("tiny-gpt2"), c.model.tied_embeddings = false),
                 "model.tied_embeddings = false: GPT-2 always ties");
  // Odd head sizes are fine without RoPE.
  EXPECT_EQ(problem([](JobConfig& c) {
              c.model = model_preset("tiny-gpt2");
              c.model.d_model = 12;
              c.model.n_head = c.model.n_kv_head = 4;
            }),
            "");
}

TEST(ConfigValidate, Data) {
  EXPECT_PROBLEM(c.data.source = "web",
                 "data.source = 'web': unknown; use one of synthetic, shards");
  EXPECT_PROBLEM(c.data.source = "shards", "data.source = shards needs data.train_pattern");
  EXPECT_PROBLEM(c.data.synthetic_vocab = 300,
                 "data.synthetic_vocab = 300 exceeds model.vocab_size = 256");
  EXPECT_PROBLEM(c.data.synthetic_vocab = 1, "data.synthetic_vocab = 1: must be at least 2");
  EXPECT_PROBLEM(c.data.synthetic_order = -1, "data.synthetic_order = -1: must be >= 0");
  EXPECT_PROBLEM(
      (c.data.synthetic_vocab = 128, c.data.synthetic_order = 3, c.data.synthetic_branching = 33),
      "= 2097152 x 33 exceeds 2^26 Markov table entries");
  EXPECT_PROBLEM(c.data.synthetic_branching = 40, "data.synthetic_branching = 40");
  EXPECT_PROBLEM((c.data.synthetic_vocab = 256, c.data.synthetic_order = 3),
                 "data.synthetic_vocab^data.synthetic_order = 256^3 exceeds 2^22");
  // 2^22 exactly is allowed; shards skip the synthetic checks.
  EXPECT_EQ(problem([](JobConfig& c) { c.data.synthetic_vocab = 4, c.data.synthetic_order = 11; }),
            "");
  EXPECT_EQ(problem([](JobConfig& c) {
              c.data.source = "shards";
              c.data.train_pattern = "x*.bin";
              c.data.synthetic_vocab = 100000;
            }),
            "");
}

TEST(ConfigValidate, Train) {
  EXPECT_PROBLEM(c.train.micro_batch = 0, "train.micro_batch = 0: must be at least 1");
  EXPECT_PROBLEM(c.train.seq_len = 0, "train.seq_len = 0");
  EXPECT_PROBLEM(c.train.grad_accum = 0, "train.grad_accum = 0");
  EXPECT_PROBLEM(c.train.steps = -1, "train.steps = -1");
  EXPECT_PROBLEM(c.train.seq_len = 512, "train.seq_len = 512 exceeds model.max_seq_len = 256");
  EXPECT_PROBLEM(c.train.lr = 0, "train.lr = 0: the learning rate must be > 0");
  EXPECT_PROBLEM(c.train.beta1 = 1, "train.beta1 = 1: must be in [0, 1)");
  EXPECT_PROBLEM(c.train.beta2 = -0.5f, "train.beta2 = -0.5: must be in [0, 1)");
  EXPECT_PROBLEM(c.train.grad_clip = -1, "train.grad_clip = -1: must be >= 0");
  EXPECT_PROBLEM(c.train.min_lr_ratio = 1.5f, "train.min_lr_ratio = 1.5: must be in [0, 1]");
  EXPECT_PROBLEM(c.train.min_lr_ratio = -0.1f, "train.min_lr_ratio = -0.1");
  EXPECT_PROBLEM(c.train.warmup_steps = -1, "train.warmup_steps = -1: must be >= 0");
  EXPECT_PROBLEM(c.train.weight_decay = -1, "train.weight_decay = -1");
  EXPECT_PROBLEM(c.train.eps = 0, "train.eps = 0: must be > 0");
  EXPECT_PROBLEM(c.train.eval_every = -1, "train.eval_every = -1: must be >= 0");
  EXPECT_PROBLEM(c.train.eval_sequences = 0, "train.eval_sequences = 0");
  EXPECT_PROBLEM(c.train.checkpoint_every = -5, "train.checkpoint_every = -5");
  EXPECT_PROBLEM(c.train.log_every = 0, "train.log_every = 0");
  EXPECT_PROBLEM(c.train.trace_step = -1, "train.trace_step = -1: must be >= 0");
  EXPECT_PROBLEM(c.train.steps = 10;
                 c.train.trace_step = 11,
                 "train.trace_step = 11 is past train.steps = 10: that step never runs");
  // Edges that are allowed.
  EXPECT_EQ(problem([](JobConfig& c) {
              c.train.min_lr_ratio = 1;
              c.train.beta1 = 0;
              c.train.grad_clip = 0;
              c.train.warmup_steps = c.train.steps;
              c.train.seq_len = c.model.max_seq_len;
              c.train.eval_every = 0;
              c.train.eval_batches = 0;
              c.train.trace_step = c.train.steps;
            }),
            "");
  // The default trace step in a run shorter than it traces nothing, and is no error.
  EXPECT_EQ(problem([](JobConfig& c) {
              c.train.steps = 1;
              c.train.trace_step = kDefaultTraceStep;
            }),
            "");
  EXPECT_EQ(problem([](JobConfig& c) { c.train.trace_step = 0; }), "");
}

TEST(ConfigValidate, Memory) {
  EXPECT_PROBLEM(c.memory.mode = "swapall",
                 "memory.mode = 'swapall': unknown; use one of resident, manual, auto");
  EXPECT_PROBLEM((c.memory.mode = "manual", c.memory.n_buffer = 0),
                 "memory.n_buffer = 0: memory.mode = manual needs at least 1");
  EXPECT_PROBLEM(c.memory.n_persist = -2, "memory.n_persist = -2");
  EXPECT_PROBLEM(c.memory.n_buffer = -1, "memory.n_buffer = -1: must be >= 0");
  EXPECT_EQ(problem([](JobConfig& c) { c.memory.n_buffer = 0; }), "");  // resident: unused
}

TEST(ConfigValidate, Activations) {
  EXPECT_PROBLEM((c.activations.modes = {"keep", "keep", "swap", "zip"}),
                 "activations.modes[3] = 'zip': unknown block mode");
  EXPECT_PROBLEM((c.activations.modes = {"keep"}),
                 "activations.modes lists 1 modes but model.n_layer = 4");
  EXPECT_PROBLEM(c.activations.counts[ActMode::Swap] = -1, "activations.n_swap = -1: must be >= 0");
  EXPECT_PROBLEM(c.activations.counts[ActMode::Checkpoint] = -1, "activations.n_checkpoint = -1");
  EXPECT_PROBLEM(c.activations.counts[ActMode::Compress] = -1, "activations.n_compress = -1");
  EXPECT_PROBLEM(
      (c.activations.counts[ActMode::Swap] = 2, c.activations.counts[ActMode::Checkpoint] = 2,
       c.activations.counts[ActMode::Compress] = 1),
      "activations.n_swap + n_checkpoint + n_compress + n_compress_swap = 2 + 2 + 1 + 0 = 5 "
      "exceeds model.n_layer = 4");
  EXPECT_PROBLEM(c.activations.counts[ActMode::CompressSwap] = -1,
                 "activations.n_compress_swap = -1");
  EXPECT_PROBLEM(
      (c.activations.counts[ActMode::CompressSwap] = 3, c.activations.counts[ActMode::Swap] = 2),
      "= 2 + 0 + 0 + 3 = 5 exceeds model.n_layer = 4");
  EXPECT_PROBLEM(c.activations.eb = 0, "activations.eb = 0: the compression error bound");
  EXPECT_PROBLEM(c.activations.eb = std::numeric_limits<float>::infinity(),
                 "activations.eb = inf: the compression error bound must be finite");
  EXPECT_PROBLEM(c.activations.payload_fraction = 0, "activations.payload_fraction = 0: must be");
  EXPECT_PROBLEM(c.activations.payload_fraction = 2.5f, "activations.payload_fraction = 2.5");
  EXPECT_PROBLEM((c.activations.modes = {"compress_swap", "keep", "keep", "keep"},
                  c.activations.counts[ActMode::CompressSwap] = 2),
                 "1 compress_swap blocks but n_swap/n_checkpoint/n_compress/n_compress_swap say "
                 "0/0/0/2");
  EXPECT_PROBLEM((c.activations.modes = {"swap", "keep", "keep", "keep"},
                  c.activations.counts[ActMode::Checkpoint] = 1),
                 "modes wins when given");
  EXPECT_EQ(problem([](JobConfig& c) {
              c.activations.modes = {"swap", "checkpoint", "compress", "keep"};
              c.activations.counts[ActMode::Swap] = c.activations.counts[ActMode::Checkpoint] =
                  c.activations.counts[ActMode::Compress] = 1;
            }),
            "");
  EXPECT_EQ(problem([](JobConfig& c) {
              c.activations.modes = {"compress_swap", "compress_swap", "compress", "keep"};
              c.activations.payload_fraction = 0.25f;
            }),
            "");
}

TEST(ConfigValidate, ListsEveryProblemOnItsOwnLine) {
  JobConfig c;
  c.train.lr = -1;
  c.backend = "gpu";
  EXPECT_EQ(config_problems(c).size(), 2u);
  std::string msg = test::validate_error(c);
  EXPECT_EQ(msg.rfind("invalid job config:\n  backend = 'gpu'", 0), 0u) << msg;
  EXPECT_NE(msg.find("\n  train.lr = -1"), std::string::npos) << msg;
}

}  // namespace
}  // namespace mart
