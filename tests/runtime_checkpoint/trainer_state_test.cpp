// parse_trainer_state: every value of trainer_state.json is type- and range-checked, and every
// error names the file and the key, never nlohmann's "[json.exception...]" text. Before, "step":
// "abc" surfaced as "[json.exception.type_error.302] type must be number, but is string", and a
// negative step, a step beyond train.steps or a non-finite best_val_loss were accepted.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/runtime_checkpoint/ckpt_test_util.h"

namespace mart::ckpt_test {
namespace {

const char* kOrigin = "run/checkpoints/step_00000003/trainer_state.json";

struct Fixture {
  JobConfig cfg;
  TrainState st;
  Fixture() {
    cfg = testutil::rig_job(tiny_model(), 2, 8, {});
    cfg.train.steps = 10;
    validate(cfg);
    st.step = 3;
    st.tokens_seen = 48;
    st.loader.position = 48;
    st.best_val_loss = 2.5;
  }
  nlohmann::json json() const { return nlohmann::json::parse(trainer_state_text(cfg, st)); }
};

TEST(TrainerState, RoundTrips) {  // the negative control
  Fixture f;
  SavedTrainerState s = parse_trainer_state(trainer_state_text(f.cfg, f.st), kOrigin);
  EXPECT_EQ(s.state.step, 3);
  EXPECT_EQ(s.state.tokens_seen, 48u);
  EXPECT_EQ(s.state.loader, f.st.loader);
  EXPECT_EQ(s.state.best_val_loss, 2.5);
  EXPECT_EQ(to_json(s.config), to_json(f.cfg));
}

TEST(TrainerState, EveryBadValueNamesFileAndKey) {
  struct Case {
    const char* what;
    std::function<void(nlohmann::json&)> edit;
    const char* needle;
  };
  const std::vector<Case> cases = {
      {"negative step", [](auto& j) { j["step"] = -1; }, "key 'step' must be an integer"},
      {"step as text", [](auto& j) { j["step"] = "abc"; }, "key 'step' must be an integer"},
      {"step past train.steps", [](auto& j) { j["step"] = 11; },
       "key 'step' is 11, beyond the run's train.steps = 10"},
      {"fractional step", [](auto& j) { j["step"] = 2.5; }, "key 'step' must be an integer"},
      {"huge step", [](auto& j) { j["step"] = uint64_t{1} << 40; }, "key 'step'"},
      {"missing step", [](auto& j) { j.erase("step"); }, "missing key 'step'"},
      {"tokens_seen as text", [](auto& j) { j["tokens_seen"] = "48"; }, "key 'tokens_seen'"},
      {"tokens_seen below step", [](auto& j) { j["tokens_seen"] = 2; },
       "key 'tokens_seen' is 2, impossible after 3 steps"},
      {"best_val_loss infinite", [](auto& j) { j["best_val_loss"] = HUGE_VAL; },
       "key 'best_val_loss' must be a finite number"},
      {"best_val_loss negative", [](auto& j) { j["best_val_loss"] = -1.0; }, "key 'best_val_loss'"},
      {"best_val_loss text", [](auto& j) { j["best_val_loss"] = "low"; }, "key 'best_val_loss'"},
      {"loader not an object", [](auto& j) { j["loader"] = 5; }, "key 'loader' must be an object"},
      {"loader position text", [](auto& j) { j["loader"]["position"] = "x"; },
       "loader: key 'position' must be an integer"},
      {"loader position off a window", [](auto& j) { j["loader"]["position"] = 49; },
       "key 'loader.position' is 49, not a multiple of train.seq_len = 8"},
      {"loader shard on a synthetic run", [](auto& j) { j["loader"]["shard"] = 2; },
       "'loader.shard' and 'loader.epoch' must be 0"},
      {"config n_layer huge", [](auto& j) { j["config"]["model"]["n_layer"] = 1e9; },
       "key 'config'"},
      {"config invalid", [](auto& j) { j["config"]["model"]["n_head"] = 7; }, "key 'config'"},
      {"config wrong type", [](auto& j) { j["config"]["train"] = "fast"; }, "key 'config'"},
      {"unknown key", [](auto& j) { j["files"] = nlohmann::json::object(); },
       "unknown key 'files'"},
      {"format 1", [](auto& j) { j["format_version"] = 1; }, "format_version is 1"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Fixture f;
    nlohmann::json j = f.json();
    c.edit(j);
    const std::string e = error_of([&] { parse_trainer_state(j.dump(), kOrigin); });
    EXPECT_TRUE(has(e, kOrigin));
    EXPECT_TRUE(has(e, c.needle));
    EXPECT_FALSE(has(e, "json.exception"));
  }
}

TEST(TrainerState, MalformedTextIsNamed) {
  for (const std::string text : {"", "{", "[1,2]", "null", "{\"step\": 1e999}"}) {
    SCOPED_TRACE(text);
    const std::string e = error_of([&] { parse_trainer_state(text, kOrigin); });
    EXPECT_TRUE(has(e, kOrigin));
    EXPECT_FALSE(has(e, "json.exception"));
  }
}

TEST(TrainerState, SaveRefusesAStateTheLoaderWouldReject) {
  RunFixture r;
  TrainState st = RunFixture::state_at(3);
  st.best_val_loss = std::nan("");
  const std::string e =
      error_of([&] { save_checkpoint(r.run, r.cfg, r.rig->spec, *r.rig->states, st); });
  EXPECT_TRUE(has(e, "best_val_loss"));
  EXPECT_FALSE(fs::exists(r.ckpt(3)));
}

}  // namespace
}  // namespace mart::ckpt_test
