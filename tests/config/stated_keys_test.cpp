// The loader reports which model keys the job config stated (for --init-from, which takes the
// rest from the checkpoint), and GPT-2 ties its embeddings without being told. Before, a GPT-2
// config had to write `tied_embeddings: true` (and n_kv_head equal to n_head) or was refused.
#include <gtest/gtest.h>

#include "config_test_util.h"
#include "tests/common/test_util.h"

namespace mart {
namespace {

using testutil::has;
using testutil::TempDir;
using testutil::write_all;

std::set<std::string> stated(const std::string& yaml, const std::vector<std::string>& sets = {}) {
  TempDir tmp;
  write_all(tmp.file("job.yaml"), yaml);
  return load_job_config_unvalidated(tmp.file("job.yaml"), sets).stated_model_keys;
}

TEST(StatedKeys, YamlAndOverridesNameTheirModelKeys) {
  using S = std::set<std::string>;
  EXPECT_EQ(stated("train:\n  steps: 5\n"), S{});  // control: no model key, none stated
  EXPECT_EQ(stated("model:\n  rope_theta: 500000\n  n_layer: 2\n"), (S{"n_layer", "rope_theta"}));
  EXPECT_EQ(stated("name: x\n", {"model.norm_eps=1e-6", "train.lr=1e-3"}), S{"norm_eps"});
  EXPECT_EQ(load_job_config_unvalidated("", {"model.d_ff=64"}).stated_model_keys, S{"d_ff"});
  // A preset states every model key, whichever way it is written.
  for (const auto& keys : {stated("model: tiny-gpt2\n"), stated("model: {preset: tiny-llama}\n"),
                           stated("name: x\n", {"model=tiny-llama"})}) {
    EXPECT_TRUE(keys.count("n_layer") && keys.count("rope_theta") && keys.count("family") &&
                keys.count("tied_embeddings"));
  }
}

TEST(StatedKeys, OriginNamesTheFileAndOverrides) {
  EXPECT_EQ(load_job_config_unvalidated("", {}).origin, "built-in defaults");
  EXPECT_TRUE(has(load_job_config_unvalidated("", {"model.n_layer=2"}).origin, "--set"));
}

constexpr const char* kGpt2 =
    "model:\n  family: gpt2\n  n_layer: 2\n  d_model: 64\n  n_head: 4\n  d_ff: 256\n";

TEST(Gpt2Tying, TiesWithoutBeingTold) {
  const JobConfig c = job_config_from_yaml_string(kGpt2, "job.yaml");
  EXPECT_TRUE(c.model.tied_embeddings);
  EXPECT_EQ(c.model.n_kv_head, 4);  // as many kv heads as query heads, also untold
  // Llama keeps its default (untied), so the default is the family's, not a global change.
  EXPECT_FALSE(
      job_config_from_yaml_string("model:\n  family: llama\n", "job.yaml").model.tied_embeddings);
}

TEST(Gpt2Tying, ExplicitFalseIsRefusedNamingTheKeyAndWhy) {
  const std::string e = test::load_error(std::string(kGpt2) + "  tied_embeddings: false\n");
  EXPECT_TRUE(has(e, "model.tied_embeddings = false")) << e;
  EXPECT_TRUE(has(e, "always ties")) << e;
  try {
    job_config_from_yaml_string(kGpt2, "job.yaml", {"model.tied_embeddings=false"});
    ADD_FAILURE() << "an explicit --set model.tied_embeddings=false was accepted for GPT-2";
  } catch (const Error& err) {
    EXPECT_TRUE(has(err.what(), "always ties")) << err.what();
  }
}

}  // namespace
}  // namespace mart
