#include "config/block_modes.h"

#include "layout/act_mode.h"

namespace mart {

std::vector<std::string> resolve_block_modes(const JobConfig& c) {
  const ActivationConfig& a = c.activations;
  if (!a.modes.empty()) return a.modes;
  std::vector<std::string> out;
  for (ActMode m : block_modes_from_counts(c.model.n_layer, a.counts))
    out.push_back(act_mode_name(m));
  return out;
}

}  // namespace mart
