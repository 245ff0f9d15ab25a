// The built-in defaults are a valid job, and configs/jobs/default.yaml is exactly them.
#include <gtest/gtest.h>

#include "config_test_util.h"

namespace mart {
namespace {

TEST(ConfigDefaults, BuiltInDefaultsAreValid) {
  EXPECT_TRUE(config_problems(JobConfig{}).empty());
  EXPECT_NO_THROW(validate(JobConfig{}));
}

TEST(ConfigDefaults, EmptyPathGivesDefaults) {
  test::expect_same(load_job_config(""), JobConfig{});
}

TEST(ConfigDefaults, EmptyAndCommentOnlyTextGiveDefaults) {
  test::expect_same(job_config_from_yaml_string("", "empty.yaml"), JobConfig{});
  test::expect_same(job_config_from_yaml_string("# nothing\n", "c.yaml"), JobConfig{});
  test::expect_same(job_config_from_yaml_string("train:\nmodel:\n", "c.yaml"), JobConfig{});
}

TEST(ConfigDefaults, DefaultYamlEqualsBuiltInDefaults) {
  test::expect_same(load_job_config(MART_SOURCE_DIR "/configs/jobs/default.yaml"), JobConfig{});
}

TEST(ConfigDefaults, MissingFileNamesIt) {
  try {
    load_job_config("/no/such/job.yaml");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/no/such/job.yaml"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mart
