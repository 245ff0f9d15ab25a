// The activation modes of a transformer block, as one enum and one trait table: what each mode
// keeps on the device, whether it copies to pinned host memory, recomputes or is lossy, where its
// blocks go in the layout, and the config key of its count. Config, layout, cost model, search
// and the activation manager read these traits (and switch over ActMode without `default:`, so
// -Wswitch names every place a new mode must be handled) instead of repeating per-mode lists.
//
// Adding a mode: a row in kActModeTraits (and the enumerator), then each switch the compiler
// names. Pure: depends on nothing but the standard library and common/.
#pragma once
#include <array>
#include <cstddef>
#include <string>
#include <vector>

namespace mart {

// compress_swap: compress, then swap the encoding to pinned host memory (fewer PCIe bytes than
// swap, no device region per block unlike compress).
// The order is the config's key order (n_swap, n_checkpoint, n_compress, n_compress_swap).
enum class ActMode { Keep, Swap, Checkpoint, Compress, CompressSwap };
inline constexpr size_t kActModeCount = 5;

// What a block in this mode holds on the device between its forward and its backward.
enum class ActResidence {
  FullBody,     // its whole body (keep)
  Encoding,     // its compressed region (compress)
  StagingOnly,  // nothing of its own: it passes through shared staging slots (swap, compress_swap)
  Nothing,      // nothing: recomputed from its input in backward (checkpoint)
};

struct ActModeTraits {
  ActMode mode;
  const char* name;       // config and output spelling: "keep", ...
  const char* count_key;  // activations.<count_key> in the job config; nullptr for keep (the rest)
  char letter;            // one-letter code of `mart plan --explain`'s block-mode string
  ActResidence device;    // what it keeps on the device
  bool copies_to_host;    // copies (its body or its encoding) to pinned host memory
  bool recomputes;        // recomputes its forward in backward
  bool lossy;             // restores activations within the error bound, not exactly
  // Layout from counts: blocks go in ascending rank (block 0 first); keep has the highest rank
  // and takes the rest. Modes of equal rank share one run: the `spread` mode (at most one per
  // rank) is spread evenly over it, the others fill the remaining places in enum order.
  int layout_rank;
  bool spread;
};

// Indexed by ActMode (checked below).
inline constexpr std::array<ActModeTraits, kActModeCount> kActModeTraits{{
    // Early blocks' activations wait longest for backward: swapped ones have the most time to
    // travel to the host and back, so they go first; compress_swap next (its copies are smaller).
    // Spreading recomputation evenly keeps backward from stalling on a run of recomputes. The
    // last blocks are needed first in backward: they are kept.
    {ActMode::Keep, "keep", nullptr, 'k', ActResidence::FullBody, false, false, false, 3, false},
    {ActMode::Swap, "swap", "n_swap", 's', ActResidence::StagingOnly, true, false, false, 0, false},
    {ActMode::Checkpoint, "checkpoint", "n_checkpoint", 'c', ActResidence::Nothing, false, true,
     false, 2, true},
    {ActMode::Compress, "compress", "n_compress", 'z', ActResidence::Encoding, false, false, true,
     2, false},
    {ActMode::CompressSwap, "compress_swap", "n_compress_swap", 'w', ActResidence::StagingOnly,
     true, false, true, 1, false},
}};

constexpr const ActModeTraits& act_traits(ActMode m) {
  return kActModeTraits[static_cast<size_t>(m)];
}
constexpr bool act_table_in_enum_order() {
  for (size_t i = 0; i < kActModeCount; ++i)
    if (static_cast<size_t>(kActModeTraits[i].mode) != i) return false;
  return true;
}
static_assert(act_table_in_enum_order(), "kActModeTraits must list the modes in enum order");
static_assert(static_cast<size_t>(ActMode::CompressSwap) + 1 == kActModeCount,
              "kActModeCount must count every ActMode");

inline const char* act_mode_name(ActMode m) {
  return act_traits(m).name;
}
inline bool act_mode_compresses(ActMode m) {
  return act_traits(m).lossy;
}
inline bool act_mode_copies(ActMode m) {
  return act_traits(m).copies_to_host;
}
ActMode parse_act_mode(const std::string& s);  // throws naming the bad string and the choices
std::vector<ActMode> parse_act_modes(const std::vector<std::string>& s);
// "keep, checkpoint, swap, compress or compress_swap": for messages.
std::string act_mode_choices();

// Blocks per mode, indexed by ActMode. The Keep entry is not a request: keep takes the blocks
// the others leave (block_modes_from_counts), so configs and plans leave it 0.
struct ModeCounts {
  std::array<int, kActModeCount> n{};
  int& operator[](ActMode m) { return n[static_cast<size_t>(m)]; }
  int operator[](ActMode m) const { return n[static_cast<size_t>(m)]; }
  // Blocks placed by counts: every entry but Keep.
  int placed() const;
  // Blocks whose mode has the trait: e.g. count_if([](auto& t) { return t.lossy; }).
  template <class Pred>
  int count_if(Pred pred) const {
    int s = 0;
    for (const ActModeTraits& t : kActModeTraits)
      if (t.mode != ActMode::Keep && pred(t)) s += (*this)[t.mode];
    return s;
  }
  bool operator==(const ModeCounts&) const = default;
};

// The mode of every block from counts, block 0 first (the rule is in the trait table's
// layout_rank / spread; docs/ACTIVATIONS.md spells it out). The i-th of c spread blocks in a run
// of `span` blocks starting at `first` is first + round(i * span / c), halves up. Throws
// mart::Error when a count is negative or they sum to more than n_layer.
// Examples (n_layer 8): swap 2, checkpoint 2, compress 2 -> s s c z c z k k;
//                       swap 1, compress_swap 2, checkpoint 1 -> s w w c k k k k.
std::vector<ActMode> block_modes_from_counts(int n_layer, const ModeCounts& counts);
ModeCounts counts_of_modes(const std::vector<ActMode>& modes);  // Keep entry included

}  // namespace mart
