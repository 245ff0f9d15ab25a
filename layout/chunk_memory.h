// Bytes that chunked model states take, as pure functions of the chunk layout. The chunk manager
// allocates exactly this (memory/chunk_manager.cpp calls these), and the planner predicts with
// them, so predicted and measured peaks agree to the byte.
#pragma once
#include <cstddef>
#include <cstdint>

#include "layout/chunk_layout.h"

namespace mart {

constexpr uint64_t kArenaAlign = 256;  // == DeviceArena::kAlign
constexpr uint64_t arena_bytes(uint64_t b) {
  return (b + kArenaAlign - 1) / kArenaAlign * kArenaAlign;
}

// Device: persistent chunks ([param|grad] in act dtype + m, v fp32 + fp32 master unless act is
// fp32), n_buffer buffers ([param|grad]) when any chunk is offloaded, per-tensor norm scratch.
uint64_t chunk_state_device_bytes(const ChunkLayout& L, int n_persist, int n_buffer,
                                  size_t act_bytes, size_t n_tensors);
// Pinned host: per offloaded chunk master, m, v (fp32), gradient landing (act) and, when act is
// not fp32, the act-dtype upload copy.
uint64_t chunk_state_host_bytes(const ChunkLayout& L, int n_persist, size_t act_bytes);

}  // namespace mart
