// Negative control for the harness (replay-only, never fuzzed): an input starting with "raw"
// throws a raw std::out_of_range, which expect_only_mart_errors must turn into a failure; any other
// input throws a mart::Error, which must pass. CTest runs both (fuzz.selftest.*).
#include <cstdint>
#include <stdexcept>
#include <string>

#include "tests/fuzz/targets/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  mart::fuzz::expect_only_mart_errors([&] {
    if (input.rfind("raw", 0) == 0) throw std::out_of_range("a raw library error");
    MART_FAIL("a named refusal");
  });
  return 0;
}
