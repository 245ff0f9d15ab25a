// Fuzz target: the YAML job-config loader (job_config_from_yaml_string) with `--set` overrides.
// Input: YAML text; the lines after a line "#set" (a YAML comment, so the file stays YAML) are
// overrides, one "key=value" per line, applied in order as `mart train --set` would.
#include <cstdint>
#include <string>
#include <vector>

#include "config/config_loader.h"
#include "tests/fuzz/targets/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::string marker = "\n#set\n";
  const size_t cut = input.find(marker);
  const std::string yaml = input.substr(0, cut);
  std::vector<std::string> overrides;
  if (cut != std::string::npos) {
    std::string rest = input.substr(cut + marker.size());
    for (size_t start = 0; start < rest.size();) {
      size_t nl = rest.find('\n', start);
      if (nl == std::string::npos) nl = rest.size();
      overrides.push_back(rest.substr(start, nl - start));
      start = nl + 1;
    }
  }
  mart::fuzz::expect_only_mart_errors([&] {
    mart::JobConfig c = mart::job_config_from_yaml_string(yaml, "fuzz.yaml", overrides);
    // What the loader accepted must survive its own round trip (config_serialize.h's contract).
    (void)mart::job_config_from_yaml_string(mart::to_yaml(c), "fuzz.yaml (round trip)");
  });
  return 0;
}
