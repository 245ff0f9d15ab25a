// Counter-based randomness for the data loader's `shuffle` and `random` orders.
//
// Every draw is a pure function of (seed, stream, index) and every permutation a pure function of
// (size, key), so a loader's position is a few integers: saving them and restoring them into a
// fresh loader continues the exact same sequence of windows (bitwise resume), with no generator
// state to serialize and no O(windows) permutation table in memory.
#pragma once
#include <cstdint>

namespace mart {

// A well-mixed 64-bit value of (seed, stream, index) (splitmix64's finalizer, chained).
uint64_t counter_hash(uint64_t seed, uint64_t stream, uint64_t index);

// floor(r * n / 2^64): maps a uniform 64-bit r onto [0, n). The bias is below n / 2^64, far below
// anything a training run can observe, and it needs no rejection loop (so no hidden state).
uint64_t uniform_below(uint64_t r, uint64_t n);

// A pseudo-random bijection of [0, n): a 4-round Feistel network over the smallest even power of
// two >= n, cycle-walked back into range (fewer than 4 walks per call on average).
class IndexPermutation {
 public:
  IndexPermutation(uint64_t n, uint64_t key);
  uint64_t size() const { return n_; }
  uint64_t operator()(uint64_t i) const;  // i < size()

 private:
  uint64_t feistel(uint64_t x) const;
  uint64_t n_ = 0, key_ = 0;
  int half_bits_ = 0;
};

}  // namespace mart
