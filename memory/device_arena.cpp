#include "memory/device_arena.h"

#include <algorithm>
#include <sstream>

#include "common/error.h"
#include "common/units.h"
#include "device/device.h"

namespace mart {

DeviceArena::DeviceArena(Device* dev, uint64_t capacity) : dev_(dev), capacity_(capacity) {
  MART_CHECK(capacity % kAlign == 0, "arena capacity must be a multiple of ", kAlign);
  if (dev_ && capacity_ > 0) base_ = dev_->raw_malloc(capacity_);
  if (capacity_ > 0) free_[0] = capacity_;
  stats_.capacity = capacity_;
}

DeviceArena::~DeviceArena() {
  if (dev_ && base_) dev_->raw_free(base_, capacity_);
}

Region DeviceArena::alloc(uint64_t bytes, std::string_view tag) {
  MART_CHECK(bytes > 0, "arena: zero-byte request for '", tag, "'");
  uint64_t need = arena_round(bytes);
  uint64_t largest = 0;
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    largest = std::max(largest, it->second);
    if (it->second < need) continue;
    uint64_t off = it->first, size = it->second;
    free_.erase(it);
    if (size > need) free_[off + need] = size - need;
    live_[off] = Live{need, std::string(tag)};
    stats_.in_use += need;
    stats_.peak_in_use = std::max(stats_.peak_in_use, stats_.in_use);
    stats_.high_water = std::max(stats_.high_water, off + need);
    stats_.by_tag[std::string(tag)] += need;
    ++stats_.n_allocs;
    Region r;
    r.offset = off;
    r.bytes = need;
    r.ptr = base_ ? static_cast<char*>(base_) + off : nullptr;
    return r;
  }
  std::ostringstream os;
  os << "device memory budget exceeded: '" << tag << "' needs " << format_bytes(need)
     << ", but only " << format_bytes(capacity_ - stats_.in_use) << " of the "
     << format_bytes(capacity_) << " capacity is free (largest free extent "
     << format_bytes(largest) << "). In use:";
  for (auto& [t, b] : stats_.by_tag)
    if (b) os << " " << t << "=" << format_bytes(b);
  os << ". Raise memory.device_capacity, offload more chunks (memory.n_persist), or recompute/"
        "swap activations.";
  throw Error(os.str());
}

void DeviceArena::free(const Region& r) {
  auto it = live_.find(r.offset);
  MART_CHECK(it != live_.end() && it->second.bytes == r.bytes, "arena: free of a region (offset ",
             r.offset, ", ", r.bytes, " bytes) that is not live");
  stats_.in_use -= r.bytes;
  stats_.by_tag[it->second.tag] -= r.bytes;
  ++stats_.n_frees;
  live_.erase(it);
  // Insert and merge with neighbours so free extents stay maximal.
  uint64_t off = r.offset, size = r.bytes;
  auto next = free_.lower_bound(off);
  if (next != free_.end() && off + size == next->first) {
    size += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == off) {
      prev->second += size;
      return;
    }
  }
  free_[off] = size;
}

void DeviceArena::reset_peak() {
  stats_.peak_in_use = stats_.in_use;
  stats_.high_water = 0;
  for (auto& [off, l] : live_) stats_.high_water = std::max(stats_.high_water, off + l.bytes);
}

bool DeviceArena::contains(const void* p, uint64_t bytes) const {
  if (!base_) return false;
  auto a = static_cast<const char*>(p), b = static_cast<const char*>(base_);
  return a >= b && a + bytes <= b + capacity_;
}

void DeviceArena::check_invariants() const {
  uint64_t pos = 0, used = 0;
  auto f = free_.begin();
  auto l = live_.begin();
  bool prev_free = false;
  while (f != free_.end() || l != live_.end()) {
    if (f != free_.end() && f->first == pos) {
      MART_CHECK(!prev_free, "arena invariant: adjacent free extents at ", pos);
      MART_CHECK(f->second > 0, "arena invariant: empty free extent at ", pos);
      pos += f->second;
      prev_free = true;
      ++f;
    } else if (l != live_.end() && l->first == pos) {
      pos += l->second.bytes;
      used += l->second.bytes;
      prev_free = false;
      ++l;
    } else {
      MART_FAIL("arena invariant: gap or overlap at offset ", pos);
    }
  }
  MART_CHECK(pos == capacity_, "arena invariant: regions cover ", pos, " of ", capacity_, " bytes");
  MART_CHECK(used == stats_.in_use, "arena invariant: in_use ", stats_.in_use, " != live ", used);
}

std::string DeviceArena::describe() const {
  std::ostringstream os;
  os << "arena " << format_bytes(capacity_) << ": in use " << format_bytes(stats_.in_use)
     << ", peak " << format_bytes(stats_.peak_in_use) << ", high water "
     << format_bytes(stats_.high_water);
  return os.str();
}

}  // namespace mart
