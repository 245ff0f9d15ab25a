// --set overrides: applied after the file, checked like file values, errors mention --set.
#include <gtest/gtest.h>

#include "config_test_util.h"

namespace mart {
namespace {

#define EXPECT_HAS(msg, sub) EXPECT_NE((msg).find(sub), std::string::npos) << (msg)

TEST(ConfigOverrides, ScalarsOfEveryKind) {
  JobConfig c = load_job_config(
      "", {"train.lr=1e-4", "train.steps=70", "model.tied_embeddings=true", "name=run1",
           "backend=cuda", "data.synthetic_seed=18446744073709551615", "memory.chunk_size=32MiB",
           "model.family=llama", "data.val_pattern=val*.bin", "data.val_pattern="});
  EXPECT_EQ(c.train.lr, 1e-4f);
  EXPECT_EQ(c.train.steps, 70);
  EXPECT_TRUE(c.model.tied_embeddings);
  EXPECT_EQ(c.name, "run1");
  EXPECT_EQ(c.backend, "cuda");
  EXPECT_EQ(c.data.synthetic_seed, 18446744073709551615ull);
  EXPECT_EQ(c.memory.chunk_size, 32u << 20);
  EXPECT_EQ(c.data.val_pattern, "");  // an empty value clears a string; later overrides win
}

TEST(ConfigOverrides, AppliedAfterTheFile) {
  JobConfig c =
      job_config_from_yaml_string("train:\n  lr: 0.1\n  steps: 50\n", "c.yaml", {"train.lr=0.2"});
  EXPECT_EQ(c.train.lr, 0.2f);
  EXPECT_EQ(c.train.steps, 50);
}

TEST(ConfigOverrides, Sequences) {
  JobConfig c = load_job_config("", {"activations.modes=[swap,keep,checkpoint,compress]"});
  EXPECT_EQ(c.activations.modes,
            (std::vector<std::string>{"swap", "keep", "checkpoint", "compress"}));
  c = load_job_config("", {"activations.modes=swap, keep,keep,keep"});
  EXPECT_EQ(c.activations.modes, (std::vector<std::string>{"swap", "keep", "keep", "keep"}));
  c = load_job_config("", {"activations.modes=[swap,keep,keep,keep]", "activations.modes=[]"});
  EXPECT_TRUE(c.activations.modes.empty());
}

TEST(ConfigOverrides, PresetThenModelKeys) {
  JobConfig c = load_job_config("", {"model=gpt2-124m", "model.n_layer=2", "train.seq_len=64"});
  EXPECT_EQ(c.model.n_layer, 2);
  EXPECT_EQ(c.model.d_model, 768);
}

TEST(ConfigOverrides, UnknownKeyMentionsSet) {
  std::string e = test::load_error("", {"train.lrr=3"});
  EXPECT_HAS(e, "train.lrr: unknown key (--set train.lrr=3)");
  EXPECT_HAS(e, "did you mean 'lr'?");
  e = test::load_error("", {"trian.lr=3"});
  EXPECT_HAS(e, "trian: unknown key (--set trian.lr=3)");
  EXPECT_HAS(e, "did you mean 'train'?");
}

TEST(ConfigOverrides, WrongTypeMentionsSet) {
  std::string e = test::load_error("", {"train.lr=fast"});
  EXPECT_HAS(e, "train.lr: expected a number, got 'fast' (--set train.lr=fast)");
  e = test::load_error("", {"memory.chunk_size=12QB"});
  EXPECT_HAS(e, "memory.chunk_size: invalid size '12QB'");
  EXPECT_HAS(e, "--set memory.chunk_size=12QB");
}

TEST(ConfigOverrides, MalformedOverrides) {
  EXPECT_HAS(test::load_error("", {"train.lr"}), "--set train.lr: expected section.key=value");
  EXPECT_HAS(test::load_error("", {"=3"}), "expected section.key=value");
  EXPECT_HAS(test::load_error("", {"train..lr=3"}), "is not a key path");
  EXPECT_HAS(test::load_error("", {"a.b.c=3"}), "nested too deeply");
  EXPECT_HAS(test::load_error("", {"train=3"}), "train: expected a mapping of train keys");
  EXPECT_HAS(test::load_error("", {"activations.modes=[swap"}), "cannot parse the value");
}

TEST(ConfigOverrides, ResultIsValidated) {
  std::string e;
  try {
    load_job_config("", {"train.seq_len=4096"});
  } catch (const Error& err) {
    e = err.what();
  }
  EXPECT_HAS(e, "invalid job config (built-in defaults with --set overrides)");
  EXPECT_HAS(e, "train.seq_len = 4096 exceeds model.max_seq_len = 256");
}

TEST(ConfigOverrides, ApplyWithoutValidating) {
  JobConfig c;
  apply_overrides(c, {"train.lr=-1"});
  EXPECT_EQ(c.train.lr, -1.0f);
}

}  // namespace
}  // namespace mart
