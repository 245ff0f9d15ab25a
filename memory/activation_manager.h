// ActivationManager: owns the saved activations of every transformer block and applies the block's
// mode (docs/ACTIVATIONS.md). A block's saved tensors are split in two
// (runtime/model/transformer.h):
//   - its input x_in [N,C], always resident (the executor owns it: it is the residual stream and
//     the recompute seed);
//   - its "body": every other saved tensor, one contiguous region (ActBody: act-dtype values, then
//     fp32 statistics). The mode decides where the body lives between forward and backward:
//       keep       a device region per block, alive for the whole step;
//       checkpoint nothing is kept; forward writes the body into one shared device scratch and
//                  backward recomputes it there from x_in;
//       swap       forward writes into one of kSwapStages device staging slots (slot = swap index
//                  mod kSwapStages), which is copied to pinned host memory on the D2H stream; in
//                  backward each freed slot is refilled on the H2D stream with the swapped block
//                  kSwapStages earlier, so the copy hides under the next swapped block's backward.
//                  The last kSwapStages swapped blocks are still in their slots when backward
//                  reaches them and are never copied. Results are bitwise those of keep
//                  (memory/act_swap_lane.h runs the slots and copies);
//       compress   forward writes into the shared scratch; forward_end encodes the act-dtype part
//                  with the error-bounded codec (kernels/codec.h) into the block's fixed-size
//                  region and stores the fp32 statistics raw; backward_begin decodes into the
//                  scratch. Every reconstructed value is within eb of the original. An encoding
//                  larger than the region (CompressBudget) is dropped and the block is recomputed
//                  in that backward instead (exact; counted in BlockActStats::fallbacks);
//       compress_swap  compress, then swap: the encoding is written into one of kSwapStages
//                  compressed staging slots (a second lane, as swap's but region-sized) and only
//                  the bytes it fills are copied to pinned host memory. backward_begin waits for
//                  the prefetch, decodes into the scratch and frees the slot at once, so the next
//                  prefetch overlaps this block's backward too. Results are bitwise those of
//                  compress; a fallback copies nothing and recomputes.
// All device regions are taken from the arena in the constructor and pinned host blocks from the
// HostAllocator: the layout is static and equals activation_memory() (layout/
// activation_memory.h) to the byte.
//
// Call order per micro-batch: forward_begin(b)/forward_end(b) for b = 0..L-1, then (training)
// backward_start(), backward_begin(b)/backward_end(b) for b = L-1..0. A forward without backward
// (evaluation) is allowed; the next forward simply overwrites everything.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/dtype.h"
#include "device/device.h"
#include "kernels/codec_adaptive.h"
#include "layout/activation_memory.h"
#include "memory/act_swap_lane.h"
#include "memory/device_arena.h"

namespace mart {

class HostAllocator;

struct ActivationOptions {
  DType act_dtype = DType::F32;    // of the body's act part (compress encodes F32 or BF16)
  float eb = 1e-3f;                // compress: absolute bound on every reconstructed value
  bool adaptive_eb = false;        // compress: per-block bound from codec::AdaptiveBound
  codec::AdaptiveConfig adaptive;  // its controller (eb_init is replaced by eb)
  double adaptive_gain = 1.0;      // metric = relative L2 activation error * gain
  CompressBudget budget;           // codec_workspace_bytes is filled in by the manager
  bool trace = false;              // record compute/copy intervals (tests, profiling)
  // Called with the body of block b (device memory) in stream order on the compute stream's
  // issuing thread: at forward_end before it is copied or encoded (backward = false), and at
  // backward_begin once the body is back (backward = true; not for recomputed blocks, whose body
  // exists only after the caller's recompute). For tests; the CPU backend's bodies are readable.
  std::function<void(int block, bool backward, const void* body)> body_hook;
};

struct BlockActStats {
  ActMode mode = ActMode::Keep;
  uint64_t device_bytes = 0;     // own device region between its forward and backward
  uint64_t host_bytes = 0;       // pinned host bytes (swap, compress_swap)
  uint64_t transient_bytes = 0;  // shared device bytes it uses while its forward/backward runs
  uint64_t encoded_bytes = 0;    // compress: last encoding of the act part (0 after a fallback)
  float eb = 0;                  // compress: bound of the last encoding
  uint64_t fallbacks = 0;        // compress: encodings over budget, recomputed instead
};

struct ActivationStats {
  uint64_t device_bytes = 0;                 // arena bytes owned by the manager (all regions)
  uint64_t host_bytes = 0;                   // pinned host bytes (swap, compress_swap)
  std::vector<uint64_t> saved_device_bytes;  // per block, == blocks[b].device_bytes
  std::vector<BlockActStats> blocks;
  ActMemory layout;                // the formula's breakdown, as allocated
  uint64_t recomputed_blocks = 0;  // per backward pass (checkpoint + compress fallbacks)
  // Copies issued, cumulative: raw bodies (swap) and the bytes encodings fill (compress_swap).
  uint64_t swap_out_bytes = 0, swap_in_bytes = 0;
  uint64_t cswap_out_bytes = 0, cswap_in_bytes = 0;
};

class ActivationManager {
 public:
  // `host` may be null when no block swaps. Throws mart::Error for an unsupported combination
  // (swap or compress_swap without a host allocator, compress with an act dtype other than
  // F32/BF16).
  ActivationManager(Device& dev, DeviceArena& arena, HostAllocator* host,
                    std::vector<ActMode> modes, const ActBody& body,
                    const ActivationOptions& opt = {});
  ~ActivationManager();
  ActivationManager(const ActivationManager&) = delete;
  ActivationManager& operator=(const ActivationManager&) = delete;

  int n_blocks() const { return static_cast<int>(modes_.size()); }
  ActMode mode(int b) const { return modes_[b]; }
  uint64_t body_bytes() const { return body_.bytes(); }
  const ActBody& body() const { return body_; }

  // Where block b's forward writes its body. Valid until forward_end(b).
  void* forward_begin(int b);
  // Called after block b's forward has been issued on the compute stream.
  void forward_end(int b);
  // Start of the backward pass.
  void backward_start();
  // Block b's body for its backward. *recompute is set when the caller must first re-run the
  // block's forward into the returned region (checkpoint, compress fallback).
  void* backward_begin(int b, bool* recompute);
  void backward_end(int b);

  const ActivationStats& stats() const { return stats_; }
  const std::vector<ActTraceEntry>& trace() const { return trace_; }
  void clear_trace() { trace_.clear(); }
  // Turns the trace (ActivationOptions::trace) on or off between passes: off records nothing and
  // records no event (runtime/step_trace.h arms it for one step).
  void set_trace(bool on);
  bool tracing() const { return opt_.trace; }
  // The bound block b's next encoding uses (adaptive or fixed).
  float bound(int b) const;

  // What the constructor allocates (device and pinned host), from the pure formula.
  static ActMemory memory_needed(const std::vector<ActMode>& modes, const ActBody& body,
                                 const CompressBudget& budget, bool cuda_codec);
  static uint64_t device_bytes_needed(const std::vector<ActMode>& modes, const ActBody& body,
                                      const CompressBudget& budget = {}, bool cuda_codec = false);
  // Device scratch the codec's encoder needs for one segment of a body of act_values values:
  // CUDA's encode workspace, 0 for the CPU codec.
  static uint64_t codec_workspace_bytes(bool cuda_codec, uint64_t act_values);

 private:
  struct Segment {
    uint64_t offset = 0, bytes = 0;  // inside the block's compressed region
  };
  void* forward_body(int b) const;
  void* compressed_region(int b) const;  // compress: own region; compress_swap: its slot
  void allocate(const ActMemory& m);
  void release();
  uint64_t compress(int b);  // returns the region bytes the encoding fills (0: fallback)
  void decompress(int b);
  void measure(int b);
  void count_copies();  // stats_ copy counters from the lanes
  size_t encode_segment(const void* src, uint64_t n, float eb);
  void decode_segment(const uint8_t* enc, uint64_t enc_bytes, uint64_t n, void* dst);
  char* scratch_act(uint64_t s) const;

  Device& dev_;
  DeviceArena& arena_;
  HostAllocator* host_;
  std::vector<ActMode> modes_;
  ActBody body_;
  ActivationOptions opt_;
  bool cuda_ = false;
  std::vector<Region> own_;  // per block: keep body or compressed region
  Region scratch_, codec_;
  CodecScratchLayout codec_layout_;
  uint64_t enc_capacity_ = 0;
  std::vector<ActTraceEntry> trace_;  // before the lanes, which hold a pointer to it
  ActSwapLane swap_;                  // swap: raw bodies
  ActSwapLane cswap_;                 // compress_swap: encodings
  // compress
  std::vector<std::vector<Segment>> segments_;
  std::vector<char> fallback_;  // per block, this pass
  std::unique_ptr<codec::AdaptiveBound> adaptive_;
  int64_t passes_ = 0;                  // backward passes started
  std::vector<int64_t> measured_pass_;  // per block: pass of its last adaptive measurement
  std::vector<Event> fwd_start_;        // trace
  std::vector<Event> bwd_start_;
  ActivationStats stats_;
};

}  // namespace mart
