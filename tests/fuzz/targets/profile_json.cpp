// Fuzz target: the planner's profile reader (planner/profile.h), through its front door
// load_profile(path) -- the call `mart plan --profile FILE` makes. The input is the whole file.
#include <cstdint>

#include "planner/profile.h"
#include "tests/fuzz/targets/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static mart::fuzz::ScratchFile scratch("profile");
  const std::string& path = scratch.write(data, size);
  mart::fuzz::expect_only_mart_errors([&] {
    (void)mart::is_profile_file(path);  // must never throw at all
  });
  mart::fuzz::expect_only_mart_errors([&] { (void)mart::load_profile(path); });
  return 0;
}
