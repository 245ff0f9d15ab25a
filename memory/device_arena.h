// DeviceArena: every byte of device memory MART uses comes from here. One block is taken from the
// Device at construction (the budget); regions are handed out at offsets inside it by a first-fit
// allocator over an address-ordered free list. Because the executor requests regions in a fixed
// order, offsets are static and the planner can predict the peak exactly (docs/DESIGN.md §1:
// no fragmentation fudge factor).
//
// Invariants (checked by check_invariants(), used in tests):
//  - free extents are disjoint, address-ordered, non-adjacent (adjacent ones are merged);
//  - live regions and free extents together tile [0, capacity) exactly;
//  - stats.in_use == sum of live region sizes; stats.peak_in_use = max over time of in_use;
//  - stats.high_water = max over time of (offset + size) of any live region: the bytes of the
//    block actually touched, which is what a GPU would need.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mart {

class Device;

struct Region {
  uint64_t offset = 0;
  uint64_t bytes = 0;
  void* ptr = nullptr;  // nullptr in a dry (planning-only) arena
  explicit operator bool() const { return bytes != 0; }
};

struct ArenaStats {
  uint64_t capacity = 0;
  uint64_t in_use = 0;
  uint64_t peak_in_use = 0;
  uint64_t high_water = 0;
  uint64_t n_allocs = 0;
  uint64_t n_frees = 0;
  std::map<std::string, uint64_t> by_tag;  // live bytes per tag
};

class DeviceArena {
 public:
  static constexpr uint64_t kAlign = 256;  // what cuBLASLt/cuDNN want for every operand

  // Takes `capacity` bytes from `dev`. dev == nullptr makes a dry arena: same offsets and
  // statistics, no memory (the planner uses it to predict a layout).
  DeviceArena(Device* dev, uint64_t capacity);
  ~DeviceArena();
  DeviceArena(const DeviceArena&) = delete;
  DeviceArena& operator=(const DeviceArena&) = delete;

  // Throws mart::Error when it does not fit: names the tag, the request, what is in use by tag,
  // the capacity, and the largest free extent.
  Region alloc(uint64_t bytes, std::string_view tag);
  void free(const Region& r);

  const ArenaStats& stats() const { return stats_; }
  void reset_peak();
  uint64_t capacity() const { return capacity_; }
  void* base() const { return base_; }
  bool contains(const void* p, uint64_t bytes) const;
  // Throws if an invariant above does not hold.
  void check_invariants() const;
  std::string describe() const;

 private:
  Device* dev_;
  uint64_t capacity_;
  void* base_ = nullptr;
  std::map<uint64_t, uint64_t> free_;  // offset -> size
  struct Live {
    uint64_t bytes;
    std::string tag;
  };
  std::map<uint64_t, Live> live_;  // offset -> region
  ArenaStats stats_;
};

// Bytes a request occupies in the arena after alignment.
constexpr uint64_t arena_round(uint64_t bytes) {
  return (bytes + DeviceArena::kAlign - 1) / DeviceArena::kAlign * DeviceArena::kAlign;
}

}  // namespace mart
