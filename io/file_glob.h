// Shell-style file patterns ("data/fineweb_train_*.bin") for selecting dataset shards.
#pragma once
#include <string>
#include <vector>

namespace mart {

// Paths matching `pattern` (glob(3): *, ?, [..]), sorted so every run and every rank sees the
// shards in the same order. Throws mart::Error naming the pattern when nothing matches.
std::vector<std::string> expand_glob(const std::string& pattern);

}  // namespace mart
