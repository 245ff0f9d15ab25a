// The KV cache of generation: per layer a K and a V tensor [B, n_kv_head, max_len, head_size] in
// the act dtype, all in one region of the device arena whose size memory_budget.h's
// kv_cache_bytes gives exactly (the Session budgets it when built with
// SessionOptions::generation). The cache holds values only; which positions are valid is the
// decoder's business (Decoder::length()).
#pragma once
#include <cstdint>

#include "common/dtype.h"
#include "memory/device_arena.h"

namespace mart {

class KvCache {
 public:
  KvCache(DeviceArena& arena, int n_layer, int n_kv_head, int head_size, int batch, int max_len,
          DType dtype);
  ~KvCache();
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  void* k(int layer) const;
  void* v(int layer) const;
  int max_len() const { return max_len_; }
  int batch() const { return batch_; }
  uint64_t bytes() const { return region_.bytes; }

 private:
  DeviceArena& arena_;
  int n_layer_, batch_, max_len_;
  uint64_t piece_;  // arena-rounded bytes of one K or V tensor
  Region region_;
};

}  // namespace mart
