#include "runtime/planner/plan_layout.h"

#include <algorithm>

#include "common/error.h"

namespace mart {

std::vector<ActMode> layout_block_modes(int n, int s, int ck, int z, int w) {
  MART_CHECK(n >= 0 && s >= 0 && ck >= 0 && z >= 0 && w >= 0 && s + w + ck + z <= n,
             "block modes: n_swap ", s, " + n_compress_swap ", w, " + n_checkpoint ", ck,
             " + n_compress ", z, " must be at most n_layer ", n);
  std::vector<ActMode> modes(n, ActMode::Keep);
  for (int i = 0; i < s; ++i) modes[i] = ActMode::Swap;
  for (int i = s; i < s + w; ++i) modes[i] = ActMode::CompressSwap;
  const int first = s + w, span = ck + z;
  for (int i = 0; i < span; ++i) modes[first + i] = ActMode::Compress;
  for (int i = 0; i < ck; ++i)  // round(i * span / ck), halves up (block_modes.cpp)
    modes[first + static_cast<int>((2 * int64_t{i} * span + ck) / (2 * int64_t{ck}))] =
        ActMode::Checkpoint;
  return modes;
}

std::vector<std::pair<int, bool>> executor_acquire_order(int L, bool tied) {
  std::vector<std::pair<int, bool>> seq;
  for (int g = 0; g <= L; ++g) seq.push_back({g, false});
  seq.push_back({L + 1, true});
  if (tied) seq.push_back({0, true});
  for (int g = L; g >= 0; --g) seq.push_back({g, true});
  return seq;
}

ModelChunks model_chunks(const ModelProfile& m, uint64_t chunk_elems) {
  ModelChunks c;
  c.layout = layout_chunks(m.tensor_numel, chunk_elems, m.tensor_glue);
  c.group_chunks.resize(m.n_groups());
  c.chunk_numel.assign(c.layout.n_chunks(), 0);
  for (size_t t = 0; t < m.tensor_numel.size(); ++t) {
    const int ch = c.layout.tensor_chunk[t];
    auto& g = c.group_chunks[m.tensor_group[t]];
    if (std::find(g.begin(), g.end(), ch) == g.end()) g.push_back(ch);
    c.chunk_numel[ch] += m.tensor_numel[t];
  }
  return c;
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

int min_buffers(const ModelProfile& m, const ModelChunks& c, int n_persist) {
  const int np = n_persist < 0 ? c.n_chunks() : n_persist;
  return min_buffers_of_sets(resident_chunk_sets(executor_acquire_order(m.n_layer, m.tied_head),
                                                 c.group_chunks, m.tied_head ? m.head_group() : -1),
                             np);
}

std::vector<uint64_t> chunk_size_grid(const ModelProfile& m) {
  // As choose_chunk_elems (chunk_layout.cpp): 32..256 MiB of act-dtype elements, total/k for
  // k = 2..64, each at least the largest glued run, rounded up to the tensor alignment.
  uint64_t largest = 0, total = 0;
  const auto& n = m.tensor_numel;
  for (size_t t = 0; t < n.size(); ++t) {
    uint64_t run = n[t];
    while (t + 1 < n.size() && m.tensor_glue[t]) run += n[++t];
    largest = std::max(largest, run);
    total += run;
  }
  const uint64_t asz = static_cast<uint64_t>(m.act_bytes);
  std::vector<uint64_t> cand;
  for (uint64_t mib : {32, 48, 64, 96, 128, 192, 256}) cand.push_back((mib << 20) / asz);
  for (uint64_t k = 2; k <= 64; k *= 2) cand.push_back(total / k);
  const uint64_t a = ChunkLayout::kTensorAlign;
  for (auto& c : cand) c = (std::max(c, largest) + a - 1) / a * a;
  std::sort(cand.begin(), cand.end());
  cand.erase(std::unique(cand.begin(), cand.end()), cand.end());
  return cand;
}

ActBody act_body(const ModelProfile& m, const MicroBatchProfile& mb) {
  ActBody b;
  b.act_size = static_cast<uint64_t>(m.act_bytes);
  b.act_values = mb.body_act_values;
  b.stat_bytes = mb.body_stat_bytes;
  return b;
}

}  // namespace mart
