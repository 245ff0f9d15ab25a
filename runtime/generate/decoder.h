// Decoder: the model's forward pass for generation, over a Session built with
// SessionOptions::generation. It runs new positions only: each layer appends the new rows' keys
// and values to the KV cache (kv_cache.h) and attends over everything cached before them, so a
// step after the prompt costs one row per layer instead of the whole sequence. Forward only: no
// activation is saved for a backward pass. The head produces the logits of each sequence's last
// new position. Library piece: `mart generate` (generator.h) and RLHF rollouts build on it.
//
// Works with resident and chunked model states: it acquires parameter groups as an evaluation
// does (embedding, blocks, head; forward only), which the chunk manager serves outside its
// training prefetch order. One thread at a time, like its Session.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "runtime/generate/decoder_layout.h"
#include "runtime/generate/kv_cache.h"
#include "runtime/session.h"

namespace mart {

class Decoder {
 public:
  // Takes the KV cache and its buffers from the Session's arena (their bytes are in its budget).
  explicit Decoder(Session& session);
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Runs tokens [B, n] (sequence-major: n ids per sequence) at positions [pos, pos+n), n >= 1,
  // pos + n <= max_len(), in chunks of the Session's generation chunk. Cache positions >= pos are
  // overwritten; those below pos must hold this sequence's earlier positions (pos == length() to
  // continue; pos = 0 to start over). logits gets [B, V]: each sequence's position pos+n-1.
  void forward(std::span<const int32_t> tokens, int n, int pos, std::vector<float>* logits);

  int batch() const { return B_; }
  int max_len() const { return max_len_; }
  // Positions the cache holds after the last forward (its pos + n).
  int length() const { return length_; }
  const KvCache& cache() const { return *cache_; }

 private:
  void forward_chunk(const int32_t* tokens, int n, int pos);
  void block(int layer, int n, int pos);
  void head(int n, std::vector<float>* logits);
  void* buf(uint64_t offset) const;

  Session& s_;
  const ModelSpec& spec_;
  Ops& ops_;
  int B_, max_len_, chunk_;
  int length_ = 0;
  size_t asz_;
  DecoderLayout layout_;
  std::unique_ptr<KvCache> cache_;
  Region region_;
};

}  // namespace mart
