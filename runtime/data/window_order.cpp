#include "runtime/data/window_order.h"

#include "common/error.h"

namespace mart {
namespace {

uint64_t mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t counter_hash(uint64_t seed, uint64_t stream, uint64_t index) {
  return mix(mix(mix(seed) ^ stream) ^ index);
}

uint64_t uniform_below(uint64_t r, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(r) * n) >> 64);
}

IndexPermutation::IndexPermutation(uint64_t n, uint64_t key) : n_(n), key_(key) {
  MART_CHECK(n >= 1, "index permutation over an empty range");
  int bits = 0;
  while (bits < 64 && (uint64_t{1} << bits) < n) ++bits;
  half_bits_ = (bits + 1) / 2;  // 0 when n == 1
  MART_CHECK(half_bits_ <= 31, "index permutation: ", n, " elements is more than 2^62");
}

uint64_t IndexPermutation::feistel(uint64_t x) const {
  const uint64_t mask = (uint64_t{1} << half_bits_) - 1;
  uint64_t left = x >> half_bits_, right = x & mask;
  for (uint64_t round = 0; round < 4; ++round) {
    const uint64_t f = counter_hash(key_, round, right) & mask;
    const uint64_t next = left ^ f;
    left = right;
    right = next;
  }
  return (left << half_bits_) | right;
}

uint64_t IndexPermutation::operator()(uint64_t i) const {
  MART_CHECK(i < n_, "index permutation: index ", i, " out of range [0, ", n_, ")");
  if (half_bits_ == 0) return 0;
  // A bijection on [0, 4^half_bits) restricted to [0, n): follow the cycle until it re-enters the
  // range; the first value in range is the image, and distinct inputs give distinct images.
  uint64_t x = feistel(i);
  while (x >= n_) x = feistel(x);
  return x;
}

}  // namespace mart
