// JSON and YAML writers emit every field, and what they write reads back to an equal config.
#include <gtest/gtest.h>

#include "config_test_util.h"

namespace mart {
namespace {

// Every field away from its default, so a field the writers or readers drop shows up.
JobConfig everything_changed() {
  JobConfig c;
  // Quotes, colons and non-ASCII UTF-8 in the name; a backslash (not allowed in a name) in a
  // pattern, so the writers' escaping of both is still covered.
  c.name = "quote\" colon: # hash \u00e9t\u00e9";
  c.backend = "cuda";
  c.model.family = ModelFamily::GPT2;
  c.model.n_layer = 4;
  c.model.d_model = 96;
  c.model.n_head = 6;
  c.model.n_kv_head = 6;
  c.model.d_ff = 384;
  c.model.vocab_size = 1000;
  c.model.max_seq_len = 512;
  c.model.norm_eps = 1.2345678e-6f;
  c.model.rope_theta = 123456.7f;
  c.model.tied_embeddings = true;
  c.model.init_std = 0.0123f;
  c.data.source = "shards";
  c.data.train_pattern = "data/back\\slash/t*.bin";
  c.data.val_pattern = "true";  // a string that YAML would read as a bool unquoted
  c.data.synthetic_vocab = 17;
  c.data.synthetic_order = 3;
  c.data.synthetic_branching = 5;
  c.data.synthetic_seed = 18446744073709551615ull;
  c.train.micro_batch = 3;
  c.train.seq_len = 100;
  c.train.grad_accum = 4;
  c.train.steps = 77;
  c.train.lr = 3.3e-4f;
  c.train.min_lr_ratio = 0.3f;
  c.train.warmup_steps = 7;
  c.train.weight_decay = 0.01f;
  c.train.beta1 = 0.85f;
  c.train.beta2 = 0.999f;
  c.train.eps = 1e-6f;
  c.train.grad_clip = 0.5f;
  c.train.seed = 7;
  c.train.eval_every = 11;
  c.train.eval_batches = 2;
  c.train.eval_sequences = 24;
  c.train.micro_batch_auto = true;
  c.data.order = "shuffle";
  c.train.checkpoint_every = 20;
  c.train.log_every = 5;
  c.train.tensorboard = false;
  c.train.metrics_csv = true;
  c.train.trace_step = 13;
  c.train.max_time = "1:30:00";
  c.train.stop_signals = {"USR1", "TERM"};
  c.memory.device_capacity = (24ull << 30) + 1;
  c.memory.mode = "manual";
  c.memory.n_persist = 3;
  c.memory.n_buffer = 4;
  c.memory.chunk_size = 64ull << 20;
  c.activations.modes = {"swap", "checkpoint", "compress", "compress_swap"};
  c.activations.counts[ActMode::Swap] = 1;
  c.activations.counts[ActMode::Checkpoint] = 1;
  c.activations.counts[ActMode::Compress] = 1;
  c.activations.counts[ActMode::CompressSwap] = 1;
  c.activations.eb = 2.5e-4f;
  c.activations.adaptive_eb = true;
  c.activations.payload_fraction = 0.3f;
  return c;
}

TEST(ConfigSerialize, EverythingChangedIsValid) {
  EXPECT_EQ(test::validate_error(everything_changed()), "");
}

TEST(ConfigSerialize, JsonRoundTrip) {
  for (const JobConfig& c : {JobConfig{}, everything_changed()}) {
    nlohmann::json j = to_json(c);
    test::expect_same(job_config_from_json(j), c);
    test::expect_same(job_config_from_json(nlohmann::json::parse(j.dump())), c);
  }
}

TEST(ConfigSerialize, JsonShape) {
  nlohmann::json j = to_json(everything_changed());
  EXPECT_EQ(j["name"], "quote\" colon: # hash \u00e9t\u00e9");
  EXPECT_EQ(j["data"]["train_pattern"], "data/back\\slash/t*.bin");
  EXPECT_EQ(j["model"]["family"], "gpt2");
  EXPECT_EQ(j["memory"]["chunk_size"], 64ull << 20);
  EXPECT_EQ(j["data"]["synthetic_seed"], 18446744073709551615ull);
  EXPECT_EQ(j["activations"]["modes"][1], "checkpoint");
  EXPECT_EQ(to_json(JobConfig{})["train"]["lr"].dump(),
            "0.003");  // shortest form, not 0.00300000002
  size_t keys = 0;
  for (auto& [k, v] : j.items()) keys += v.is_object() ? v.size() : 1;
  EXPECT_EQ(j["train"]["tensorboard"], false);
  EXPECT_EQ(j["train"]["metrics_csv"], true);
  EXPECT_EQ(keys, 60u);  // every field of job_config.h
}

TEST(ConfigSerialize, JsonMissingKeysKeepDefaultsUnknownKeysFail) {
  JobConfig c = job_config_from_json(nlohmann::json::parse(R"({"train": {"steps": 9}})"));
  EXPECT_EQ(c.train.steps, 9);
  EXPECT_EQ(c.train.lr, JobConfig{}.train.lr);
  try {
    job_config_from_json(nlohmann::json::parse(R"({"train": {"stepz": 9}})"));
    FAIL();
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("train.stepz: unknown key (job config JSON); did you mean 'steps'?"),
              std::string::npos)
        << m;
  }
  EXPECT_THROW(job_config_from_json(nlohmann::json::parse(R"({"train": {"lr": "x"}})")), Error);
  EXPECT_THROW(job_config_from_json(nlohmann::json::parse("[1]")), Error);
}

TEST(ConfigSerialize, YamlRoundTrip) {
  for (const JobConfig& c : {JobConfig{}, everything_changed()}) {
    std::string y = to_yaml(c);
    SCOPED_TRACE(y);
    test::expect_same(job_config_from_yaml_string(y, "roundtrip.yaml"), c);
  }
}

TEST(ConfigSerialize, YamlIsReadable) {
  std::string y = to_yaml(everything_changed());
  EXPECT_NE(y.find("  chunk_size: 64MiB\n"), std::string::npos) << y;
  EXPECT_NE(y.find("  device_capacity: 25769803777\n"), std::string::npos) << y;
  EXPECT_NE(y.find("  lr: 0.00033\n"), std::string::npos) << y;
  EXPECT_NE(y.find("  modes: [\"swap\", \"checkpoint\", \"compress\", \"compress_swap\"]\n"),
            std::string::npos)
      << y;
  EXPECT_NE(y.find("  payload_fraction: 0.3\n"), std::string::npos) << y;
  EXPECT_NE(to_yaml(JobConfig{}).find("  chunk_size: auto\n"), std::string::npos);
}

}  // namespace
}  // namespace mart
