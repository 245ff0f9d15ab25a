// Every size, count and float of a job config is range-checked against the limit table
// (config_limits.h) before anything is allocated, from YAML, from --set and from a checkpoint's
// JSON, with a message naming the key, the value and the limit. Before the table, each value
// below was accepted: n_layer 2^31-1 ended in std::bad_alloc, norm_eps 3e38 trained a flat loss,
// eval_batches 2^31-1 never ended.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "config/config_fields.h"
#include "config/config_limits.h"
#include "config_test_util.h"

namespace mart {
namespace {

bool has(const std::string& s, const std::string& sub) {
  return s.find(sub) != std::string::npos;
}

std::string yaml_error(const std::string& yaml) {
  try {
    job_config_from_yaml_string(yaml, "limits.yaml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string set_error(const std::vector<std::string>& sets) {
  try {
    load_job_config("", sets);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_HAS_ALL(msg, ...)                                           \
  do {                                                                     \
    const std::string m_ = (msg);                                          \
    for (const char* sub : {__VA_ARGS__}) EXPECT_TRUE(has(m_, sub)) << m_; \
  } while (0)

TEST(ConfigLimits, HugeLayerCountIsRefusedNamingKeyValueAndLimit) {
  EXPECT_HAS_ALL(yaml_error("model: {n_layer: 2147483647}"), "limits.yaml",
                 "model.n_layer = 2147483647 is above its limit", "[1, 1024]");
  EXPECT_HAS_ALL(set_error({"model.n_layer=2147483647"}), "model.n_layer = 2147483647");
}

TEST(ConfigLimits, FloatsOutsideSaneRanges) {
  EXPECT_HAS_ALL(yaml_error("model: {norm_eps: 3e38}"), "model.norm_eps = 3e+38", "[1e-12, 0.1]",
                 "flat loss");
  EXPECT_HAS_ALL(set_error({"model.rope_theta=0.5"}), "model.rope_theta = 0.5 is below");
  EXPECT_HAS_ALL(set_error({"model.init_std=5"}), "model.init_std = 5 is above");
  EXPECT_HAS_ALL(set_error({"train.lr=5"}), "train.lr = 5 is above", "[1e-10, 1]");
  EXPECT_HAS_ALL(set_error({"train.eps=2"}), "train.eps = 2 is above");
  EXPECT_HAS_ALL(set_error({"train.weight_decay=11"}), "train.weight_decay = 11");
  EXPECT_HAS_ALL(set_error({"train.grad_clip=1e7"}), "train.grad_clip = 1e+07");
  EXPECT_HAS_ALL(set_error({"activations.eb=3"}), "activations.eb = 3");
}

TEST(ConfigLimits, CountsThatNeverEnd) {
  EXPECT_HAS_ALL(set_error({"train.eval_batches=2147483647"}),
                 "train.eval_batches = 2147483647 is above its limit", "100000", "never ends");
  EXPECT_HAS_ALL(set_error({"train.steps=2000000000", "train.eval_every=0"}),
                 "train.steps = 2000000000");
  EXPECT_HAS_ALL(set_error({"memory.n_buffer=100000"}), "memory.n_buffer = 100000");
  EXPECT_HAS_ALL(set_error({"memory.device_capacity=2PiB"}), "memory.device_capacity");
}

TEST(ConfigLimits, ProductsAreCheckedWithoutOverflow) {
  // Every factor is within its own limit, the model is not: 1024 x (4 d^2 + 3 d d_ff) ~ 2^56.
  EXPECT_HAS_ALL(set_error({"model.n_layer=1024", "model.d_model=65536", "model.n_head=64",
                            "model.n_kv_head=64", "model.d_ff=1048576"}),
                 "model parameters = ", "is above its limit", "16 TiB");
  EXPECT_HAS_ALL(
      set_error({"model.max_seq_len=1048576", "train.seq_len=1048576", "train.micro_batch=64"}),
      "train.micro_batch x train.seq_len = 67108864 is above");
  EXPECT_HAS_ALL(set_error({"model.vocab_size=16777216", "model.max_seq_len=8192",
                            "train.seq_len=8192", "train.micro_batch=8"}),
                 "train.micro_batch x train.seq_len x model.vocab_size");
  EXPECT_HAS_ALL(set_error({"train.lr=0.5", "train.weight_decay=4"}),
                 "train.lr x train.weight_decay = 2 is above", "flips");
}

// Negative control: values at the limits, and every shipped preset, are accepted, so the tests
// above fail for the reason they name.
TEST(ConfigLimits, ValuesAtTheLimitsAreAccepted) {
  EXPECT_EQ(set_error({"model.norm_eps=0.1", "train.eval_batches=100000", "train.lr=1",
                       "train.weight_decay=0", "model.rope_theta=1", "train.steps=1000000000",
                       "train.eval_every=0", "train.warmup_steps=0"}),
            "");
  EXPECT_EQ(set_error({"model.n_layer=1024", "model.d_model=64", "model.n_head=4",
                       "model.n_kv_head=2", "model.d_ff=128"}),
            "");
  for (const std::string& name : model_preset_names())
    EXPECT_EQ(set_error({"model=" + name, "train.seq_len=16"}), "") << name;
}

TEST(ConfigLimits, EachProblemIsReportedOnce) {
  // n_layer = 0 breaks both a rule ("must be at least 1") and the table: one message.
  JobConfig c;
  c.model.n_layer = 0;
  c.activations.counts = {};
  EXPECT_EQ(config_problems(c).size(), 1u) << test::validate_error(c);
}

TEST(ConfigLimits, CheckpointJsonIsRangeChecked) {
  nlohmann::json j = to_json(JobConfig{});
  j["model"]["n_layer"] = 1000000000;
  try {
    job_config_from_json(j, "run/step_3/trainer_state.json");
    FAIL() << "n_layer 1e9 in a checkpoint's config was accepted";
  } catch (const Error& e) {
    EXPECT_HAS_ALL(e.what(), "run/step_3/trainer_state.json", "model.n_layer = 1000000000");
  }
  j = to_json(JobConfig{});
  j["model"]["norm_eps"] = 3e38;
  EXPECT_THROW(job_config_from_json(j), Error);
  // Type errors name the origin and the key, in mart's words, not nlohmann's.
  j = to_json(JobConfig{});
  j["train"]["steps"] = "many";
  try {
    job_config_from_json(j, "ckpt/config.json");
    FAIL() << "a string for train.steps was accepted";
  } catch (const Error& e) {
    EXPECT_HAS_ALL(e.what(), "train.steps", "ckpt/config.json", "expected an integer");
    EXPECT_FALSE(has(e.what(), "json.exception")) << e.what();
  }
  j = to_json(JobConfig{});  // negative control: the unedited config reads back
  EXPECT_NO_THROW(job_config_from_json(j));
}

// Every number field of the schema has a row, and every plain row names a field: a field added
// to job_config.h without a limit fails here.
TEST(ConfigLimits, TableCoversEveryNumberField) {
  std::set<std::string> rows;
  for (const ConfigLimit& l : config_limits()) {
    EXPECT_LT(l.min, l.max) << l.key;
    EXPECT_FALSE(l.why.empty()) << l.key;
    if (!l.derived) rows.insert(std::string(l.key));
  }
  JobConfig c;
  std::set<std::string> fields;
  using config_detail::FieldKind;
  for (const auto& s : config_detail::schema(c))
    for (const auto& f : s.fields)
      if (f.kind == FieldKind::Int || f.kind == FieldKind::Float || f.kind == FieldKind::Size)
        fields.insert(std::string(s.name) + "." + std::string(f.name));
  EXPECT_EQ(rows, fields);
}

// docs/LIMITS.md shows the table exactly as config_limits_markdown() renders it.
TEST(ConfigLimits, DocsShowTheTable) {
  const std::string md = config_limits_markdown();
  for (const ConfigLimit& l : config_limits())
    EXPECT_TRUE(has(md, "| `" + std::string(l.key) + "` | ")) << l.key;
  std::ifstream in(std::string(MART_SOURCE_DIR) + "/docs/LIMITS.md");
  std::stringstream doc;
  doc << in.rdbuf();
  EXPECT_TRUE(has(doc.str(), md)) << "docs/LIMITS.md must contain the limit table exactly as "
                                     "config_limits_markdown() renders it:\n"
                                  << md;
}

}  // namespace
}  // namespace mart
