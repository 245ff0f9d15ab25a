// Every YAML shipped under configs/jobs and configs/models loads and validates, and each
// configs/models/<preset>.yaml spells out exactly the built-in preset of that name.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "config_test_util.h"

namespace mart {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> yaml_files(const char* sub) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(MART_SOURCE_DIR) / sub))
    if (e.is_regular_file() && (e.path().extension() == ".yaml" || e.path().extension() == ".yml"))
      out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ShippedConfigs, EveryJobLoadsAndValidates) {
  auto files = yaml_files("configs/jobs");
  EXPECT_GE(files.size(), 10u);
  for (const fs::path& p : files) {
    SCOPED_TRACE(p.string());
    JobConfig c;
    EXPECT_NO_THROW(c = load_job_config(p.string()));
    EXPECT_TRUE(config_problems(c).empty());
    EXPECT_EQ(resolve_block_modes(c).size(), static_cast<size_t>(c.model.n_layer));
  }
}

TEST(ShippedConfigs, EveryModelFileLoadsAndEqualsItsPreset) {
  auto files = yaml_files("configs/models");
  std::vector<std::string> stems;
  for (const fs::path& p : files) {
    SCOPED_TRACE(p.string());
    JobConfig c;
    EXPECT_NO_THROW(c = load_job_config(p.string()));
    std::string stem = p.stem().string();
    stems.push_back(stem);
    auto preset = find_model_preset(stem);
    ASSERT_TRUE(preset.has_value()) << "configs/models/" << stem << ".yaml names no preset";
    test::expect_same_model(c.model, *preset);
  }
  for (const std::string& name : model_preset_names())
    EXPECT_NE(std::find(stems.begin(), stems.end(), name), stems.end())
        << "preset " << name << " has no configs/models/" << name << ".yaml";
}

TEST(ShippedConfigs, PlanJobsUseSequence1024) {
  for (const char* name : {"gpt2-124m", "gpt2-350m", "gpt2-774m", "gpt2-1.5b", "llama-1b",
                           "llama-7b", "llama-13b", "llama-70b"}) {
    SCOPED_TRACE(name);
    JobConfig c = load_job_config(std::string(MART_SOURCE_DIR "/configs/jobs/") + name + ".yaml");
    EXPECT_EQ(c.train.seq_len, 1024);
    test::expect_same_model(c.model, model_preset(name));
  }
}

TEST(ShippedConfigs, SmokeJobIsTiny) {
  JobConfig c = load_job_config(MART_SOURCE_DIR "/configs/jobs/gpt2-124m-cpu-smoke.yaml");
  EXPECT_EQ(c.backend, "cpu");
  EXPECT_EQ(c.train.micro_batch, 1);
  EXPECT_EQ(c.train.seq_len, 64);
  EXPECT_EQ(c.train.steps, 3);
  EXPECT_EQ(c.data.source, "synthetic");
  EXPECT_EQ(c.data.synthetic_vocab, 256);
  test::expect_same_model(c.model, model_preset("gpt2-124m"));
}

TEST(ShippedConfigs, TinyShakespeareReadsShards) {
  JobConfig c = load_job_config(MART_SOURCE_DIR "/configs/jobs/tinyshakespeare.yaml");
  EXPECT_EQ(c.data.source, "shards");
  EXPECT_NE(c.data.train_pattern.find("data/tinyshakespeare"), std::string::npos);
  EXPECT_EQ(c.model.family, ModelFamily::Llama);
  EXPECT_EQ(c.model.vocab_size, 256);
}

}  // namespace
}  // namespace mart
