#include "memory/act_swap_lane.h"

#include <utility>

#include "common/error.h"
#include "memory/host_allocator.h"

namespace mart {

void ActSwapLane::allocate(DeviceArena& arena, HostAllocator* host, const Layout& l) {
  stages_ = l.stages;
  blocks_ = l.blocks;
  index_.assign(l.n_blocks, -1);
  for (size_t i = 0; i < blocks_.size(); ++i) index_[blocks_[i]] = static_cast<int>(i);
  host_.assign(l.n_blocks, nullptr);
  stored_.assign(l.n_blocks, 0);
  host_ready_.assign(l.n_blocks, nullptr);
  slot_copy_.assign(stages_, nullptr);
  slot_owner_.assign(stages_, -1);
  for (int k = 0; k < stages_; ++k) slots_.push_back(arena.alloc(l.slot_bytes, l.tag));
  if (arena.base() == nullptr) return;  // dry arena: no host memory either
  const int n = static_cast<int>(blocks_.size());
  for (int i = 0; i < n - stages_; ++i) {
    MART_CHECK(host != nullptr, "activation swap lane '", l.tag,
               "' needs pinned host memory, but no host allocator was given");
    host_[blocks_[i]] = host->allocate(l.host_bytes);
  }
}

void ActSwapLane::release(DeviceArena& arena, HostAllocator* host) {
  for (void*& p : host_)
    if (p) host->deallocate(std::exchange(p, nullptr));
  while (!slots_.empty()) {
    arena.free(slots_.back());
    slots_.pop_back();
  }
}

uint64_t ActSwapLane::slot_arena_bytes() const {
  uint64_t s = 0;
  for (const Region& r : slots_) s += r.bytes;
  return s;
}

void ActSwapLane::begin_forward(int b) {
  const int k = slot_of(b);
  if (slot_copy_[k]) dev_.wait(kComputeStream, slot_copy_[k]);
  slot_owner_[k] = -1;
}

void ActSwapLane::end_forward(int b, uint64_t bytes) {
  const int k = slot_of(b);
  slot_owner_[k] = b;
  stored_[b] = bytes;
  host_ready_[b] = nullptr;
  if (host_[b] && bytes > 0) swap_out(b);
}

void ActSwapLane::swap_out(int b) {
  const int k = slot_of(b);
  // D2H of the slot after the block's forward wrote it; the slot stays owned by b (its contents
  // are valid) until a later begin_forward of the same slot rewrites it.
  dev_.wait(kD2HStream, dev_.record(kComputeStream));
  Event start = trace_ ? dev_.record(kD2HStream) : nullptr;
  dev_.memcpy_async(host_[b], slots_[k].ptr, stored_[b], CopyKind::DeviceToHost, kD2HStream);
  slot_copy_[k] = host_ready_[b] = dev_.record(kD2HStream);
  out_bytes_ += stored_[b];
  if (trace_) trace_->push_back({ActTraceEntry::SwapOut, b, start, slot_copy_[k], stored_[b]});
}

void* ActSwapLane::begin_backward(int b) {
  const int k = slot_of(b);
  MART_CHECK(slot_owner_[k] == b, "activation manager: block ", b,
             " is not in its staging slot at its backward (forward not run?)");
  if (slot_copy_[k]) dev_.wait(kComputeStream, slot_copy_[k]);
  return slots_[k].ptr;
}

void ActSwapLane::release_slot(int b) {
  slot_owner_[slot_of(b)] = -1;
  // Refill the freed slot with the lane block `stages` earlier in forward order: its copy runs
  // while the blocks between (at least the other slot's block) compute backward.
  const int prev = index_[b] - stages_;
  if (prev >= 0) swap_in(blocks_[prev]);
}

void ActSwapLane::swap_in(int b) {
  const int k = slot_of(b);
  slot_owner_[k] = b;
  if (stored_[b] == 0) return;  // nothing was kept (a compress fallback): nothing to bring back
  // The slot's previous owner is done with it (compute event recorded now, after everything its
  // backward issued so far) and b's data has reached the host (its D2H event).
  dev_.wait(kH2DStream, dev_.record(kComputeStream));
  dev_.wait(kH2DStream, host_ready_[b]);
  Event start = trace_ ? dev_.record(kH2DStream) : nullptr;
  dev_.memcpy_async(slots_[k].ptr, host_[b], stored_[b], CopyKind::HostToDevice, kH2DStream);
  slot_copy_[k] = dev_.record(kH2DStream);
  in_bytes_ += stored_[b];
  if (trace_) trace_->push_back({ActTraceEntry::SwapIn, b, start, slot_copy_[k], stored_[b]});
}

}  // namespace mart
