// ActivationManager: owns the saved activations of every transformer block and applies the block's
// mode. A block's saved tensors are split in two (runtime/model/transformer.h):
//   - its input x_in [N,C], always resident (the executor owns it: it is the residual stream and
//     the recompute seed);
//   - its "body": every other saved tensor, one contiguous region of body_bytes. The mode decides
//     where the body lives between the block's forward and its backward:
//       keep       a device region per block, alive for the whole step;
//       checkpoint nothing is kept; the body is written into one shared device scratch in forward
//                  and recomputed into it before the block's backward;
//       swap       forward writes into a device staging buffer that is copied to pinned host memory
//                  on the D2H stream; backward prefetches it back on the H2D stream one swapped block
//                  ahead, so the copy hides under the previous block's backward;
//       compress   (see compress_* in the implementation) the body is encoded with the
//                  error-bounded codec after forward and decoded before backward.
// All device regions are taken from the arena in the constructor (static layout; exact accounting).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "memory/device_arena.h"

namespace mart {

class Device;

enum class ActMode { Keep, Checkpoint, Swap, Compress };
const char* act_mode_name(ActMode m);
ActMode parse_act_mode(const std::string& s);  // throws naming the bad string
std::vector<ActMode> parse_act_modes(const std::vector<std::string>& s);

struct ActivationStats {
  uint64_t device_bytes = 0;       // arena bytes owned by the manager (bodies, scratch, staging)
  uint64_t host_bytes = 0;         // pinned host bytes (swap)
  std::vector<uint64_t> saved_device_bytes;  // per block, between its forward and backward
  uint64_t recomputed_blocks = 0;  // per step
};

class ActivationManager {
 public:
  ActivationManager(Device& dev, DeviceArena& arena, std::vector<ActMode> modes,
                    uint64_t body_bytes);
  ~ActivationManager();
  ActivationManager(const ActivationManager&) = delete;
  ActivationManager& operator=(const ActivationManager&) = delete;

  int n_blocks() const { return static_cast<int>(modes_.size()); }
  ActMode mode(int b) const { return modes_[b]; }
  uint64_t body_bytes() const { return body_bytes_; }

  // Where block b's forward writes its body. Valid until forward_end(b).
  void* forward_begin(int b);
  // Called after block b's forward has been issued on the compute stream.
  void forward_end(int b);
  // Start of the backward pass (lets swap start its first prefetch early).
  void backward_start();
  // Block b's body for its backward. *recompute is set when the caller must first re-run the
  // block's forward into the returned region (checkpoint).
  void* backward_begin(int b, bool* recompute);
  void backward_end(int b);

  const ActivationStats& stats() const { return stats_; }
  // Device bytes the manager needs for these modes (what the constructor will allocate).
  static uint64_t device_bytes_needed(const std::vector<ActMode>& modes, uint64_t body_bytes);

 private:
  Device& dev_;
  DeviceArena& arena_;
  std::vector<ActMode> modes_;
  uint64_t body_bytes_;
  std::vector<Region> keep_;  // per block (keep mode only)
  Region scratch_;            // shared by checkpointed blocks
  ActivationStats stats_;
};

}  // namespace mart
