#include "runtime/generate/kv_cache.h"

#include "common/error.h"
#include "runtime/memory_budget.h"

namespace mart {

KvCache::KvCache(DeviceArena& arena, int n_layer, int n_kv_head, int head_size, int batch,
                 int max_len, DType dtype)
    : arena_(arena), n_layer_(n_layer), batch_(batch), max_len_(max_len) {
  MART_CHECK(n_layer > 0 && n_kv_head > 0 && head_size > 0 && batch > 0 && max_len > 0,
             "KV cache: bad shape layers=", n_layer, " kv heads=", n_kv_head,
             " head size=", head_size, " batch=", batch, " length=", max_len);
  piece_ = arena_round(static_cast<uint64_t>(batch) * n_kv_head * max_len * head_size *
                       dtype_size(dtype));
  const uint64_t total = kv_cache_bytes(n_layer, n_kv_head, head_size, batch, max_len, dtype);
  MART_CHECK(total == piece_ * 2 * n_layer, "KV cache: layout and budget disagree");
  region_ = arena.alloc(total, "kv_cache");
}

KvCache::~KvCache() {
  if (region_) arena_.free(region_);
}

void* KvCache::k(int layer) const {
  MART_CHECK(layer >= 0 && layer < n_layer_, "KV cache: layer ", layer, " out of range");
  return static_cast<char*>(region_.ptr) + piece_ * (2 * static_cast<uint64_t>(layer));
}

void* KvCache::v(int layer) const {
  MART_CHECK(layer >= 0 && layer < n_layer_, "KV cache: layer ", layer, " out of range");
  return static_cast<char*>(region_.ptr) + piece_ * (2 * static_cast<uint64_t>(layer) + 1);
}

}  // namespace mart
