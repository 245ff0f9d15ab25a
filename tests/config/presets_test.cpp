// Built-in model presets: the published shapes, all valid, selectable three ways.
#include <gtest/gtest.h>

#include "config_test_util.h"

namespace mart {
namespace {

struct Shape {
  const char* name;
  ModelFamily family;
  int n_layer, d_model, n_head, n_kv_head, d_ff, vocab, ctx;
  bool tied;
};

TEST(ModelPresets, PublishedShapes) {
  const ModelFamily G = ModelFamily::GPT2, L = ModelFamily::Llama;
  const Shape shapes[] = {
      {"gpt2-124m", G, 12, 768, 12, 12, 3072, 50257, 1024, true},
      {"gpt2-350m", G, 24, 1024, 16, 16, 4096, 50257, 1024, true},
      {"gpt2-774m", G, 36, 1280, 20, 20, 5120, 50257, 1024, true},
      {"gpt2-1.5b", G, 48, 1600, 25, 25, 6400, 50257, 1024, true},
      {"llama-1b", L, 16, 2048, 32, 8, 8192, 128256, 8192, false},
      {"llama-7b", L, 32, 4096, 32, 32, 11008, 32000, 4096, false},
      {"llama-13b", L, 40, 5120, 40, 40, 13824, 32000, 4096, false},
      {"llama-70b", L, 80, 8192, 64, 8, 28672, 32000, 4096, false},
  };
  for (const Shape& s : shapes) {
    SCOPED_TRACE(s.name);
    ModelConfig m = model_preset(s.name);
    EXPECT_EQ(m.family, s.family);
    EXPECT_EQ(m.n_layer, s.n_layer);
    EXPECT_EQ(m.d_model, s.d_model);
    EXPECT_EQ(m.n_head, s.n_head);
    EXPECT_EQ(m.n_kv_head, s.n_kv_head);
    EXPECT_EQ(m.d_ff, s.d_ff);
    EXPECT_EQ(m.vocab_size, s.vocab);
    EXPECT_EQ(m.max_seq_len, s.ctx);
    EXPECT_EQ(m.tied_embeddings, s.tied);
    EXPECT_FLOAT_EQ(m.norm_eps, 1e-5f);
  }
  EXPECT_EQ(model_preset("llama-1b").rope_theta, 500000.0f);
  EXPECT_EQ(model_preset("llama-7b").rope_theta, 10000.0f);
}

TEST(ModelPresets, EveryPresetIsValidWithDefaultTraining) {
  ASSERT_EQ(model_preset_names().size(), 10u);
  for (const std::string& name : model_preset_names()) {
    SCOPED_TRACE(name);
    JobConfig c;
    c.model = model_preset(name);
    EXPECT_EQ(test::validate_error(c), "");
  }
}

TEST(ModelPresets, SelectableByNameMappingOrOverride) {
  ModelConfig want = model_preset("gpt2-124m");
  test::expect_same_model(job_config_from_yaml_string("model: gpt2-124m\n", "c.yaml").model, want);
  test::expect_same_model(
      job_config_from_yaml_string("model: {preset: gpt2-124m}\n", "c.yaml").model, want);
  test::expect_same_model(load_job_config("", {"model=gpt2-124m"}).model, want);
  test::expect_same_model(load_job_config("", {"model.preset=gpt2-124m"}).model, want);
}

TEST(ModelPresets, MappingKeysApplyOnTopOfThePresetWhateverTheOrder) {
  JobConfig c = job_config_from_yaml_string(
      "model:\n  n_layer: 2\n  preset: llama-7b\n  max_seq_len: 2048\n", "c.yaml");
  EXPECT_EQ(c.model.n_layer, 2);
  EXPECT_EQ(c.model.max_seq_len, 2048);
  EXPECT_EQ(c.model.d_model, 4096);
}

TEST(ModelPresets, UnknownPresetSuggestsClosest) {
  std::string e = test::load_error("model: gpt2-124\n");
  EXPECT_NE(e.find("model: unknown model preset 'gpt2-124'"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'gpt2-124m'?"), std::string::npos) << e;
  EXPECT_NE(e.find("config.yaml:1"), std::string::npos) << e;
  EXPECT_THROW(model_preset("nope"), Error);
  EXPECT_FALSE(find_model_preset("nope").has_value());
}

}  // namespace
}  // namespace mart
