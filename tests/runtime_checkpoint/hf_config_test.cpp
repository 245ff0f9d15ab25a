// model_config_from_hf: a Hugging Face config.json with a wrongly typed or out-of-range value is
// named by file and key. Before, "num_hidden_layers": "2" surfaced as nlohmann's
// "[json.exception.type_error.302] type must be number, but is string", with no file or key.
#include <gtest/gtest.h>

#include "runtime/checkpoint/hf_checkpoint.h"
#include "tests/runtime_checkpoint/ckpt_test_util.h"

namespace mart::ckpt_test {
namespace {

TEST(HfConfig, BadValuesNameFileAndKey) {
  const nlohmann::json good = hf_config_json(tiny_model());
  EXPECT_EQ(model_config_from_hf(good, "config.json").n_layer, 2);  // the control
  const std::vector<std::tuple<std::string, nlohmann::json, std::string>> cases = {
      {"num_hidden_layers", "2", "key 'num_hidden_layers' must be a positive integer"},
      {"num_hidden_layers", 0, "key 'num_hidden_layers' must be a positive integer"},
      {"hidden_size", 1e12, "key 'hidden_size' must be a positive integer"},
      {"vocab_size", -5, "key 'vocab_size' must be a positive integer"},
      {"rms_norm_eps", "small", "key 'rms_norm_eps' must be a finite number"},
      {"rope_theta", 1e300, "key 'rope_theta' must be a finite number"},
      {"tie_word_embeddings", "yes", "key 'tie_word_embeddings' must be true or false"},
      {"initializer_range", nullptr, ""},  // null: the default, accepted
      {"model_type", 7, "missing key 'model_type'"},
  };
  for (const auto& [key, value, needle] : cases) {
    SCOPED_TRACE(key + " = " + value.dump());
    nlohmann::json j = good;
    j[key] = value;
    if (needle.empty()) {
      EXPECT_NO_THROW(model_config_from_hf(j, "dir/config.json"));
      continue;
    }
    const std::string e = error_of([&] { model_config_from_hf(j, "dir/config.json"); });
    EXPECT_TRUE(has(e, "dir/config.json: " + needle));
    EXPECT_FALSE(has(e, "json.exception"));
  }
  EXPECT_TRUE(has(error_of([&] { model_config_from_hf(nlohmann::json::array(), "c.json"); }),
                  "c.json: must be a JSON object"));
}

}  // namespace
}  // namespace mart::ckpt_test
