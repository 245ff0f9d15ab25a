// Fuzz target: the trainer-state reader, i.e. what resuming reads from a checkpoint's
// trainer_state.json. The input is the file's text.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "config/config_loader.h"
#include "runtime/data/data_loader.h"
#include "tests/fuzz/targets/fuzz_util.h"

namespace {

// The one call under test. Today there is no text-only entry point: this parses the text and
// hands the two parts a resume reads to their library readers, job_config_from_json (+ validate)
// and LoaderState's from_json. The glue around them in load_checkpoint (j.at("step") and
// friends) is being replaced by parse_trainer_state(text, origin) (runtime/checkpoint); when it
// exists this body becomes `(void)mart::parse_trainer_state(text, "fuzz/trainer_state.json");`
// (with #include "runtime/checkpoint/train_checkpoint.h"), and the corpus's near-misses
// (step_is_string, not_an_object, no_config) then test that glue too.
void read_trainer_state(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    MART_FAIL("trainer_state.json is not valid JSON (", e.what(), ")");
  }
  MART_CHECK(j.is_object() && j.contains("config") && j.contains("loader"),
             "trainer_state.json: expected an object with 'config' and 'loader'");
  const mart::JobConfig cfg = mart::job_config_from_json(j["config"]);
  mart::validate(cfg, "trainer_state.json");
  (void)j["loader"].get<mart::LoaderState>();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  mart::fuzz::expect_only_mart_errors([&] { read_trainer_state(text); });
  return 0;
}
