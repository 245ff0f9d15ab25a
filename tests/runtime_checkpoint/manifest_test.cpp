// The checksum manifest covers every file of a checkpoint, trainer_state.json and config.json
// included, and itself: edits to the step, the loader position, the seeds, config.json or the file
// list are refused before any state changes. (Before format 2, trainer_state.json carried the file
// table and nothing covered it: every edit below was accepted.)
#include <gtest/gtest.h>

#include "tests/runtime_checkpoint/ckpt_test_util.h"

namespace mart::ckpt_test {
namespace {

// Loading DIR fails with every needle in the message and leaves the model's weights unchanged.
void expect_load_fails(RunFixture& r, const std::string& dir,
                       const std::vector<std::string>& needles) {
  ExecutorRig b(tiny_model(), 2, 8, {}, {}, /*seed=*/777);
  std::vector<float> before(b.spec.params[0].numel), after(before.size());
  b.states->read_param(0, before.data());
  const std::string e = error_of([&] { load_checkpoint(dir, b.spec, *b.states); });
  for (const auto& n : needles) EXPECT_TRUE(has(e, n));
  EXPECT_FALSE(has(e, "json.exception"));
  b.states->read_param(0, after.data());
  EXPECT_EQ(before, after) << "a refused checkpoint changed the weights";
}

TEST(Manifest, IntactCheckpointLoads) {  // the negative control of every edit below
  RunFixture r;
  const std::string dir = r.save(3);
  ExecutorRig b(tiny_model(), 2, 8, {}, {}, 777);
  EXPECT_EQ(load_checkpoint(dir, b.spec, *b.states).step, 3);
  EXPECT_EQ(checkpoint_config(dir).train.seed, r.cfg.train.seed);
  EXPECT_TRUE(fs::exists(dir + "/manifest.json"));
}

TEST(Manifest, EditedTrainerStateFieldsAreDetected) {
  const std::vector<std::pair<std::string, std::function<void(nlohmann::json&)>>> edits = {
      {"step", [](nlohmann::json& j) { j["step"] = 2; }},
      {"loader position", [](nlohmann::json& j) { j["loader"]["position"] = 0; }},
      {"train seed", [](nlohmann::json& j) { j["config"]["train"]["seed"] = 7; }},
      {"data seed", [](nlohmann::json& j) { j["config"]["data"]["synthetic_seed"] = 7; }},
      {"format 1 file list", [](nlohmann::json& j) { j["files"] = nlohmann::json::object(); }},
  };
  for (const auto& [what, fn] : edits) {
    SCOPED_TRACE(what);
    RunFixture r;
    const std::string dir = r.save(3);
    edit_json(dir + "/trainer_state.json", fn);
    expect_load_fails(r, dir, {dir + "/trainer_state.json", "corrupt checkpoint"});
    EXPECT_TRUE(has(error_of([&] { checkpoint_config(dir); }), "trainer_state.json"));
  }
}

TEST(Manifest, EditedConfigJsonIsDetected) {
  RunFixture r;
  const std::string dir = r.save(3);
  edit_json(dir + "/model/config.json", [](nlohmann::json& j) { j["rope_theta"] = 500000; });
  expect_load_fails(r, dir, {"corrupt checkpoint: " + dir + "/model/config.json"});
}

TEST(Manifest, EmptiedOrEditedFileListIsDetected) {
  RunFixture r;
  const std::string dir = r.save(3);
  const std::string m = dir + "/manifest.json";
  const std::string original = read_all(m);
  // Emptied without fixing the manifest's own checksum.
  edit_json(m, [](nlohmann::json& j) { j["files"] = nlohmann::json::object(); });
  expect_load_fails(r, dir, {m, "fails its own CRC32C check"});
  // A size edited.
  write_all(m, original);
  edit_json(m, [](nlohmann::json& j) { j["files"]["model/config.json"]["bytes"] = 1; });
  expect_load_fails(r, dir, {"fails its own CRC32C check"});
  // Emptied by someone who also recomputed the checksum: the table must list every required file.
  write_all(m, original);
  edit_json(m, [](nlohmann::json& j) {
    j["files"] = nlohmann::json::object();
    const std::string canon =
        nlohmann::json{{"format_version", j["format_version"]}, {"files", j["files"]}}.dump();
    j["manifest_crc32c"] = crc32c(canon.data(), canon.size());
  });
  expect_load_fails(r, dir, {m, "does not list model/config.json"});
  // Removed altogether.
  fs::remove(m);
  expect_load_fails(r, dir, {m, "is missing"});
}

TEST(Manifest, ConfigJsonMustAgreeWithTheSavedConfig) {
  for (ModelFamily f : {ModelFamily::Llama, ModelFamily::GPT2}) {
    RunFixture r(f);
    const std::string dir = r.save(3);
    const bool llama = f == ModelFamily::Llama;
    edit_json(dir + "/model/config.json", [&](nlohmann::json& j) {
      if (llama)
        j["rope_theta"] = 500000;
      else
        j["n_head"] = 2;
    });
    reseal(dir);  // past the checksum: the comparison itself must catch it
    expect_load_fails(r, dir,
                      {dir + "/model/config.json says model.",
                       llama ? "rope_theta 500000, trainer_state.json's config 10000"
                             : "n_head 2, trainer_state.json's config 4"});
  }
}

// Every architectural key of config.json is compared, not only those a shape check would catch.
TEST(Manifest, EveryArchitecturalFieldOfConfigJsonIsCompared) {
  RunFixture r;
  const std::string dir = r.save(3);
  const std::string cfg = dir + "/model/config.json";
  const std::string original = read_all(cfg);
  const std::vector<std::pair<std::string, nlohmann::json>> edits = {
      {"num_hidden_layers", 3},        {"hidden_size", 64},       {"num_attention_heads", 8},
      {"num_key_value_heads", 4},      {"intermediate_size", 96}, {"vocab_size", 64},
      {"max_position_embeddings", 64}, {"rms_norm_eps", 1e-3},    {"rope_theta", 20000.0},
      {"tie_word_embeddings", true}};
  const std::vector<std::string> fields = {
      "n_layer",    "d_model",     "n_head",   "n_kv_head",  "d_ff",
      "vocab_size", "max_seq_len", "norm_eps", "rope_theta", "tied_embeddings"};
  for (size_t i = 0; i < edits.size(); ++i) {
    SCOPED_TRACE(edits[i].first);
    write_all(cfg, original);
    edit_json(cfg, [&](nlohmann::json& j) { j[edits[i].first] = edits[i].second; });
    reseal(dir);
    EXPECT_TRUE(
        has(error_of([&] { verify_checkpoint(dir); }), cfg + " says model." + fields[i] + " "));
  }
  write_all(cfg, original);  // the control: unedited, it verifies
  reseal(dir);
  EXPECT_EQ(verify_checkpoint(dir).state.step, 3);
}

TEST(Manifest, WrongTypesInConfigJsonNameTheKey) {
  RunFixture r;
  const std::string dir = r.save(3);
  edit_json(dir + "/model/config.json", [](nlohmann::json& j) { j["num_hidden_layers"] = "two"; });
  reseal(dir);
  expect_load_fails(r, dir, {"config.json: key 'num_hidden_layers' must be a positive integer"});
}

TEST(Manifest, FormatOneCheckpointIsRefusedWithTheWayForward) {
  RunFixture r;
  const std::string dir = r.save(3);
  fs::remove(dir + "/manifest.json");
  edit_json(dir + "/trainer_state.json", [](nlohmann::json& j) { j["format_version"] = 1; });
  expect_load_fails(r, dir, {"format_version 1", "--init-from " + dir});
}

}  // namespace
}  // namespace mart::ckpt_test
