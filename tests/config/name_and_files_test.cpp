// The job name is checked when the config is loaded (it names runs/<name>): before, a latin-1
// name failed only at the first checkpoint and `name: ../../x` wrote outside runs/. And the
// config file itself must be a regular file: before, a FIFO blocked the loader forever.
#include <gtest/gtest.h>

#include "config/job_name.h"
#include "config_test_util.h"
#include "tests/common/test_util.h"
#include "tests/io/fifo_guard.h"

namespace mart {
namespace {

using testutil::has;

std::string name_error(const std::string& yaml_name_value) {
  try {
    job_config_from_yaml_string("name: " + yaml_name_value + "\n", "job.yaml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(JobName, BadNamesAreRefusedAtLoad) {
  EXPECT_TRUE(has(name_error("\"caf\xe9\""), "name is not valid UTF-8 (byte 0xe9 at offset 3)"))
      << name_error("\"caf\xe9\"");
  EXPECT_TRUE(has(name_error("../../x"), "contains '/'")) << name_error("../../x");
  EXPECT_TRUE(has(name_error("'a\\b'"), "contains '\\'")) << name_error("'a\\b'");
  EXPECT_TRUE(has(name_error("'..'"), "name = '..'"));
  EXPECT_TRUE(has(name_error("'.'"), "name = '.'"));
  EXPECT_TRUE(has(name_error("\"tab\\there\""), "control character 9 at offset 3"));
  EXPECT_TRUE(has(name_error(std::string(129, 'a')), "129 bytes long, above the limit of 128"));
  // Overlong encoding of '/' and a UTF-16 surrogate are not valid UTF-8 either.
  EXPECT_TRUE(has(name_error("\"a\xc0\xaf\""), "not valid UTF-8"));
  EXPECT_TRUE(has(name_error("\"\xed\xa0\x80\""), "not valid UTF-8"));
  // Through --set and a checkpoint's JSON too.
  EXPECT_THROW(load_job_config("", {"name=../escape"}), Error);
  nlohmann::json j = to_json(JobConfig{});
  j["name"] = "../../x";
  EXPECT_THROW(job_config_from_json(j, "ckpt/config.json"), Error);
}

TEST(JobName, GoodNamesAreAccepted) {
  EXPECT_EQ(name_error("gpt2-small_v1.2"), "");
  EXPECT_EQ(name_error("\"\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80\""), "");
  EXPECT_EQ(name_error(std::string(128, 'a')), "");
  EXPECT_EQ(name_error("..x"), "");  // only "." and ".." themselves name a folder
}

TEST(ConfigFile, FifoDirectoryAndDeviceAreRefused) {
  testutil::TempDir tmp;
  const std::string fifo = tmp.file("job.yaml");
  test::make_fifo(fifo);
  const std::string e = test::error_without_hang(fifo, [&] { load_job_config(fifo); });
  EXPECT_TRUE(has(e, "job config '" + fifo + "' is not a regular file but a FIFO")) << e;
  const std::string d =
      test::error_without_hang(fifo, [&] { load_job_config(tmp.path().string()); });
  EXPECT_TRUE(has(d, "is not a regular file but a directory")) << d;
  const std::string z = test::error_without_hang(fifo, [&] { load_job_config("/dev/zero"); });
  EXPECT_TRUE(has(z, "is not a regular file but a character device")) << z;
  // Negative control: the same loader reads a regular file.
  testutil::write_all(tmp.file("ok.yaml"), "train: {steps: 50}\n");
  EXPECT_EQ(load_job_config(tmp.file("ok.yaml")).train.steps, 50);
}

}  // namespace
}  // namespace mart
