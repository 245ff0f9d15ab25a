// Fuzz target: the trainer-state reader, i.e. what resuming reads from a checkpoint's
// trainer_state.json (runtime/checkpoint/trainer_state.cpp: JSON types, every value's range, the
// job config through validate() and the limit table). The input is the file's text; the corpus's
// near-misses (step_is_string, not_an_object, no_config) exercise the key checks.
#include <cstdint>
#include <string>

#include "runtime/checkpoint/train_checkpoint.h"
#include "tests/fuzz/targets/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  mart::fuzz::expect_only_mart_errors(
      [&] { (void)mart::parse_trainer_state(text, "fuzz/trainer_state.json"); });
  return 0;
}
