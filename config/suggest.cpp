#include "config/suggest.h"

#include <algorithm>
#include <cctype>

namespace mart::config_detail {

int edit_distance(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return std::tolower(static_cast<unsigned char>(c)); };
  std::vector<int> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      int subst = prev[j - 1] + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string suggestion(std::string_view word, const std::vector<std::string>& candidates) {
  const std::string* best = nullptr;
  int best_d = 0;
  for (const std::string& c : candidates) {
    int d = edit_distance(word, c);
    if (!best || d < best_d) {
      best = &c;
      best_d = d;
    }
  }
  int limit = std::max<int>(2, static_cast<int>(word.size()) / 3);
  if (best && best_d <= limit) return "; did you mean '" + *best + "'?";
  std::string list;
  for (const std::string& c : candidates) list += (list.empty() ? "" : ", ") + c;
  return "; valid choices: " + list;
}

}  // namespace mart::config_detail
