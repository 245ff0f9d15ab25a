#include "planner/plan_layout.h"

#include <algorithm>

#include "common/error.h"

namespace mart {

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
