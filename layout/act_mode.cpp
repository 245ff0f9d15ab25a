#include "layout/act_mode.h"

#include <cstdint>

#include "common/error.h"

namespace mart {

std::string act_mode_choices() {
  std::string s;
  for (size_t i = 0; i < kActModeCount; ++i)
    s += std::string(i == 0 ? "" : i + 1 == kActModeCount ? " or " : ", ") + kActModeTraits[i].name;
  return s;
}

ActMode parse_act_mode(const std::string& s) {
  for (const ActModeTraits& t : kActModeTraits)
    if (s == t.name) return t.mode;
  MART_FAIL("unknown activation mode '", s, "' (expected ", act_mode_choices(), ")");
}

std::vector<ActMode> parse_act_modes(const std::vector<std::string>& s) {
  std::vector<ActMode> out;
  for (auto& x : s) out.push_back(parse_act_mode(x));
  return out;
}

int ModeCounts::placed() const {
  return count_if([](const ActModeTraits&) { return true; });
}

ModeCounts counts_of_modes(const std::vector<ActMode>& modes) {
  ModeCounts c;
  for (ActMode m : modes) ++c[m];
  return c;
}

namespace {

std::string counts_text(const ModeCounts& c) {
  std::string s;
  for (const ActModeTraits& t : kActModeTraits)
    if (t.count_key)
      s += std::string(s.empty() ? "" : " + ") + t.count_key + " " + std::to_string(c[t.mode]);
  return s;
}

}  // namespace

std::vector<ActMode> block_modes_from_counts(int n, const ModeCounts& counts) {
  bool non_negative = n >= 0;
  for (const ActModeTraits& t : kActModeTraits)
    if (t.count_key) non_negative = non_negative && counts[t.mode] >= 0;
  MART_CHECK(non_negative && counts.placed() <= n, "block modes: ", counts_text(counts),
             " must be non-negative and at most n_layer ", n,
             " (keep takes the rest; lower a count or use more blocks)");
  std::vector<ActMode> modes(n, ActMode::Keep);
  int first = 0;  // the first block of the current rank's run
  for (int rank = 0; rank < act_traits(ActMode::Keep).layout_rank; ++rank) {
    int span = 0;
    for (const ActModeTraits& t : kActModeTraits)
      if (t.layout_rank == rank) span += counts[t.mode];
    std::vector<bool> taken(span, false);
    for (const ActModeTraits& t : kActModeTraits) {  // the spread mode first, over the whole run
      if (t.layout_rank != rank || !t.spread) continue;
      const int c = counts[t.mode];
      for (int i = 0; i < c; ++i) {  // round(i * span / c) in integers; distinct: span >= c
        const int at = static_cast<int>((2 * int64_t{i} * span + c) / (2 * int64_t{c}));
        modes[first + at] = t.mode;
        taken[at] = true;
      }
    }
    int at = 0;  // then the others fill the remaining places, in enum order
    for (const ActModeTraits& t : kActModeTraits) {
      if (t.layout_rank != rank || t.spread) continue;
      for (int i = 0; i < counts[t.mode]; ++i) {
        while (taken[at]) ++at;
        modes[first + at++] = t.mode;
      }
    }
    first += span;
  }
  return modes;
}

}  // namespace mart
