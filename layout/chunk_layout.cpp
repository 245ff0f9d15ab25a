#include "layout/chunk_layout.h"

#include <algorithm>

#include "common/error.h"

namespace mart {
namespace {

uint64_t align_up(uint64_t x, uint64_t a) {
  return (x + a - 1) / a * a;
}

}  // namespace

uint64_t ChunkLayout::waste(const std::vector<uint64_t>& numel) const {
  uint64_t data = 0;
  for (uint64_t n : numel) data += n;
  return static_cast<uint64_t>(n_chunks()) * chunk_elems - data;
}

namespace {

// [first, last] tensor runs joined by glue.
std::vector<std::pair<size_t, size_t>> runs_of(const std::vector<uint64_t>& numel,
                                               const std::vector<bool>& glue) {
  std::vector<std::pair<size_t, size_t>> runs;
  for (size_t t = 0; t < numel.size(); ++t) {
    size_t end = t;
    while (end + 1 < numel.size() && end < glue.size() && glue[end]) ++end;
    runs.push_back({t, end});
    t = end;
  }
  return runs;
}

}  // namespace

ChunkLayout layout_chunks(const std::vector<uint64_t>& numel, uint64_t chunk_elems,
                          const std::vector<bool>& glue) {
  const auto runs = runs_of(numel, glue);
  uint64_t largest = 0;
  for (auto [a, b] : runs) {
    uint64_t n = 0;
    for (size_t t = a; t <= b; ++t) n += numel[t];
    largest = std::max(largest, n);
  }
  MART_CHECK(chunk_elems >= largest, "chunk size of ", chunk_elems,
             " elements cannot hold the largest tensor (", largest,
             " elements); raise memory.chunk_size or use auto");
  ChunkLayout L;
  L.chunk_elems = chunk_elems;
  L.tensor_chunk.resize(numel.size());
  L.tensor_offset.resize(numel.size());
  for (auto [a, b] : runs) {
    uint64_t n = 0;
    for (size_t t = a; t <= b; ++t) n += numel[t];
    uint64_t at =
        L.chunk_used.empty() ? 0 : align_up(L.chunk_used.back(), ChunkLayout::kTensorAlign);
    if (L.chunk_used.empty() || at + n > chunk_elems) {
      L.chunk_used.push_back(0);
      L.chunk_tensors.emplace_back();
      at = 0;
    }
    for (size_t t = a; t <= b; ++t) {
      L.tensor_chunk[t] = L.n_chunks() - 1;
      L.tensor_offset[t] = at;
      at += numel[t];
      L.chunk_tensors.back().push_back(static_cast<int>(t));
    }
    L.chunk_used.back() = at;
  }
  return L;
}

uint64_t choose_chunk_elems(const std::vector<uint64_t>& numel, uint64_t elem_bytes,
                            const std::vector<bool>& glue) {
  MART_CHECK(!numel.empty() && elem_bytes > 0, "choose_chunk_elems: no tensors");
  uint64_t largest = 0, total = 0;
  for (auto [a, b] : runs_of(numel, glue)) {
    uint64_t n = 0;
    for (size_t t = a; t <= b; ++t) n += numel[t];
    largest = std::max(largest, n);
    total += n;
  }
  std::vector<uint64_t> cand;
  for (uint64_t mib : {32, 48, 64, 96, 128, 192, 256}) cand.push_back((mib << 20) / elem_bytes);
  for (uint64_t k = 2; k <= 64; k *= 2) cand.push_back(total / k);
  uint64_t best = 0, best_waste = UINT64_MAX;
  std::sort(cand.begin(), cand.end());
  for (uint64_t c : cand) {
    c = align_up(std::max(c, largest), ChunkLayout::kTensorAlign);
    uint64_t w = layout_chunks(numel, c, glue).waste(numel);
    if (w < best_waste) best = c, best_waste = w;
  }
  return best;
}

}  // namespace mart
