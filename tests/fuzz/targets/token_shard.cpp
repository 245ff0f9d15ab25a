// Fuzz target: the llm.c token-shard reader (runtime/data/token_shard.h). The input is the whole
// shard file. Both entry points are exercised: read_shard_info (header only) and TokenShard (header
// and every token against a vocab size), then the accessors over the whole accepted range.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "runtime/data/token_shard.h"
#include "tests/fuzz/targets/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static mart::fuzz::ScratchFile scratch("shard");
  const std::string& path = scratch.write(data, size);
  mart::fuzz::expect_only_mart_errors([&] {
    const mart::ShardInfo info = mart::read_shard_info(path);
    // A vocab that admits every uint16 token but not every uint32 one, so both outcomes of the
    // token-range check are reachable.
    mart::TokenShard shard(path, 65536);
    if (shard.size() != info.num_tokens || shard.format() != info.format) {
      std::fprintf(stderr, "FUZZ FINDING: read_shard_info and TokenShard disagree\n");
      std::abort();
    }
    std::vector<int32_t> all(shard.size());
    shard.copy_to(0, all);
    const std::vector<uint32_t> tokens = shard.tokens();
    for (uint64_t i = 0; i < shard.size(); ++i)
      if (static_cast<uint32_t>(all[i]) != tokens[i] || shard[i] != tokens[i] ||
          tokens[i] >= 65536) {
        std::fprintf(stderr, "FUZZ FINDING: token %llu read inconsistently\n",
                     static_cast<unsigned long long>(i));
        std::abort();
      }
    std::vector<int32_t> one(1);
    shard.copy_to(shard.size(), one);  // past the end: must be a mart::Error
  });
  return 0;
}
