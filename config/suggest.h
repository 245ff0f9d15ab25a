// "did you mean 'lr'?" for misspelt keys and names: the closest candidate by edit distance.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace mart::config_detail {

// Levenshtein distance, case-insensitive.
int edit_distance(std::string_view a, std::string_view b);

// "; did you mean 'x'?" when some candidate is close to `word` (within a third of its length,
// at least 2 edits), else "; valid choices: a, b, c". Ready to append to an error message.
std::string suggestion(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace mart::config_detail
