// ActSwapLane: the staging slots, pinned host copies and copy events of one kind of swapped
// activation data. The ActivationManager (memory/activation_manager.h) has two lanes: raw bodies
// of "swap" blocks and encodings of "compress_swap" blocks. A lane's blocks, in forward order,
// get lane indices 0..n-1; index i uses staging slot i mod stages.
//
// Per block b of the lane, in stream order:
//   forward   begin_forward(b): the compute stream waits for the last copy into or out of b's
//             slot (a swap-out earlier in this pass, or a prefetch of the previous backward),
//             because b's forward is about to rewrite it;
//             end_forward(b, bytes): b's data (`bytes` of it, 0 = nothing worth keeping) is in the
//             slot; if b is host-backed, a D2H copy of those bytes starts after a compute event.
//   backward  begin_backward(b): the compute stream waits for the slot's last copy (b's
//             prefetch); returns the slot;
//             release_slot(b): b no longer needs its slot; the lane block `stages` earlier in
//             forward order is prefetched into it on the H2D stream (after a compute event, so
//             after whatever b's backward issued that reads the slot, and after that block's D2H).
// The last `stages` blocks of the lane are still in their slots when backward reaches them, so
// they are never host-backed and never copied (activation_memory() gives them no host bytes).
//
// Invariants:
//   - slot_owner_[k] is the block whose data slot k holds (or will hold once its pending copy
//     completes), or -1 while a forward is rewriting it or after its owner's release;
//   - slot_copy_[k] is the event of the last copy that read or wrote slot k (null: none yet);
//   - every host-backed block has exactly one pinned host block of host_bytes, for the lane's life.
#pragma once
#include <cstdint>
#include <vector>

#include "device/device.h"
#include "memory/device_arena.h"

namespace mart {

class HostAllocator;

// One interval of the activation trace (ActivationOptions::trace): events on the compute stream
// for a block's forward (forward_begin..forward_end) and backward (backward_begin after the body
// is back..backward_end), and on the copy streams around each swap copy.
struct ActTraceEntry {
  enum Kind { Forward, Backward, SwapOut, SwapIn } kind;
  int block;
  Event start, end;
  uint64_t bytes = 0;  // SwapOut / SwapIn: bytes copied
};

class ActSwapLane {
 public:
  struct Layout {
    std::vector<int> blocks;  // the lane's blocks in forward order
    int n_blocks = 0;         // blocks of the model (ids are < n_blocks)
    int stages = 0;           // staging slots (min(blocks, kSwapStages))
    uint64_t slot_bytes = 0;  // arena bytes of one slot
    uint64_t host_bytes = 0;  // pinned bytes of one host-backed block
    const char* tag = "";     // arena tag of the slots
  };

  // `trace`: where copy intervals go; null = no trace.
  ActSwapLane(Device& dev, std::vector<ActTraceEntry>* trace) : dev_(dev), trace_(trace) {}
  // Starts (non-null) or stops (null) recording copy intervals, between passes.
  void set_trace(std::vector<ActTraceEntry>* trace) { trace_ = trace; }
  ActSwapLane(const ActSwapLane&) = delete;
  ActSwapLane& operator=(const ActSwapLane&) = delete;

  // Takes the slots from `arena` and the host blocks from `host` (not in a dry arena). On a
  // failure part-way what was taken stays recorded, so release() gives it back.
  void allocate(DeviceArena& arena, HostAllocator* host, const Layout& l);
  // Frees everything. The caller has synchronised the device (copies may use slots and blocks).
  void release(DeviceArena& arena, HostAllocator* host);

  int stages() const { return stages_; }
  uint64_t slot_arena_bytes() const;  // all slots
  bool in_lane(int b) const { return index_[b] >= 0; }
  bool host_backed(int b) const { return host_[b] != nullptr; }
  void* slot(int b) const { return slots_[slot_of(b)].ptr; }

  void begin_forward(int b);
  void end_forward(int b, uint64_t bytes);
  void* begin_backward(int b);
  void release_slot(int b);

  uint64_t out_bytes() const { return out_bytes_; }  // copies issued, cumulative
  uint64_t in_bytes() const { return in_bytes_; }

 private:
  int slot_of(int b) const { return index_[b] % stages_; }
  void swap_out(int b);
  void swap_in(int b);

  Device& dev_;
  std::vector<ActTraceEntry>* trace_;
  int stages_ = 0;
  std::vector<Region> slots_;
  std::vector<int> index_;         // per model block: lane index, -1 if not in the lane
  std::vector<int> blocks_;        // block id by lane index
  std::vector<void*> host_;        // per model block; null when it never leaves its slot
  std::vector<uint64_t> stored_;   // per model block: bytes its last forward left in the slot
  std::vector<Event> host_ready_;  // per model block: its D2H copy has completed
  std::vector<Event> slot_copy_;   // per slot: the last copy into or out of it
  std::vector<int> slot_owner_;    // per slot (invariant above)
  uint64_t out_bytes_ = 0, in_bytes_ = 0;
};

}  // namespace mart
