#include "layout/resident_sets.h"

#include <algorithm>

namespace mart {

std::vector<std::pair<int, bool>> executor_acquire_order(int L, bool tied) {
  std::vector<std::pair<int, bool>> seq;
  for (int g = 0; g <= L; ++g) seq.push_back({g, false});
  seq.push_back({L + 1, true});
  if (tied) seq.push_back({0, true});
  for (int g = L; g >= 0; --g) seq.push_back({g, true});
  return seq;
}

std::vector<std::vector<int>> resident_chunk_sets(const std::vector<std::pair<int, bool>>& order,
                                                  const std::vector<std::vector<int>>& group_chunks,
                                                  int head_group) {
  const int n = static_cast<int>(order.size());
  int n_chunks = 0;
  for (auto& g : group_chunks)
    for (int c : g) n_chunks = std::max(n_chunks, c + 1);
  // First and last backward position of every chunk in one micro-batch.
  std::vector<int> first(n_chunks, -1), last(n_chunks, -1);
  for (int p = 0; p < n; ++p) {
    if (!order[p].second) continue;
    for (int c : group_chunks[order[p].first]) {
      if (first[c] < 0) first[c] = p;
      last[c] = p;
    }
  }
  std::vector<std::vector<int>> sets;
  for (int p = 0; p < n; ++p) {
    std::vector<int> s = group_chunks[order[p].first];
    // Tied head: the classifier's backward holds the head's group and the embedding's together.
    if (head_group >= 0 && order[p].first == head_group)
      s.insert(s.end(), group_chunks[0].begin(), group_chunks[0].end());
    if (order[p].second)
      for (int c = 0; c < n_chunks; ++c)
        if (first[c] >= 0 && first[c] < p && last[c] > p) s.push_back(c);
    std::sort(s.begin(), s.end());
    s.erase(std::unique(s.begin(), s.end()), s.end());
    sets.push_back(std::move(s));
  }
  return sets;
}

int min_buffers_of_sets(const std::vector<std::vector<int>>& sets, int n_persist) {
  int need = 0;
  for (auto& s : sets)
    need =
        std::max(need, static_cast<int>(s.end() - std::lower_bound(s.begin(), s.end(), n_persist)));
  return need;
}

}  // namespace mart
