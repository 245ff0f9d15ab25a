// Project-local deterministic random numbers. std::mt19937 is portable but std::*_distribution
// are not (libstdc++ and libc++ map bits to values differently), so everything that must replay
// bit-identically -- synthetic corpora, data order -- draws from these instead.
#pragma once
#include <cstdint>

namespace mart {

// SplitMix64 step: advances `state` and returns a well-mixed 64-bit value. Used to seed xoshiro
// and to derive independent sub-seeds (per block, per context) from one user seed.
inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Stateless hash of (seed, index): a distinct, decorrelated seed for the index-th sub-stream.
inline uint64_t mix_seed(uint64_t seed, uint64_t index) {
  uint64_t s = seed ^ (index * 0xd1b54a32d192ed03ull);
  splitmix64(s);
  return splitmix64(s);
}

// xoshiro256** (Blackman & Vigna): fast, 256-bit state, passes BigCrush.
class Xoshiro256 {
 public:
  explicit Xoshiro256(uint64_t seed) {
    for (uint64_t& w : s_) w = splitmix64(seed);
  }

  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits; exact in IEEE double, so identical everywhere.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // Uniform in (0, 1): never 0, for weights that must stay strictly positive.
  double uniform_open() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }

  // Uniform integer in [0, n), unbiased (Lemire's multiply-and-reject). n must be > 0.
  uint64_t below(uint64_t n) {
    unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(next()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace mart
