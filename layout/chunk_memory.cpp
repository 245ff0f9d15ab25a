#include "layout/chunk_memory.h"

#include <algorithm>

namespace mart {

uint64_t chunk_state_device_bytes(const ChunkLayout& L, int n_persist, int n_buffer, size_t asz,
                                  size_t n_tensors) {
  const uint64_t e = L.chunk_elems;
  const int np = n_persist < 0 ? L.n_chunks() : std::min(n_persist, L.n_chunks());
  const uint64_t per_persist = arena_bytes(e * (2 * asz + 8 + (asz == 4 ? 0 : 4)));
  const int nb = np == L.n_chunks() ? 0 : n_buffer;
  return np * per_persist + nb * arena_bytes(e * 2 * asz) + arena_bytes(n_tensors * 4);
}

uint64_t chunk_state_host_bytes(const ChunkLayout& L, int n_persist, size_t asz) {
  const uint64_t e = L.chunk_elems;
  const int np = n_persist < 0 ? L.n_chunks() : std::min(n_persist, L.n_chunks());
  return (L.n_chunks() - np) * e * (12 + asz + (asz == 4 ? 0 : asz));
}

}  // namespace mart
