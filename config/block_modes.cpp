#include "config/block_modes.h"

#include "common/error.h"

namespace mart {

std::vector<std::string> resolve_block_modes(const JobConfig& c) {
  const ActivationConfig& a = c.activations;
  if (!a.modes.empty()) return a.modes;
  const int n = c.model.n_layer;
  const int s = a.n_swap, w = a.n_compress_swap, ck = a.n_checkpoint, z = a.n_compress;
  MART_CHECK(n >= 0 && s >= 0 && w >= 0 && ck >= 0 && z >= 0 && s + w + ck + z <= n,
             "activations: n_swap + n_compress_swap + n_checkpoint + n_compress = ", s, " + ", w,
             " + ", ck, " + ", z, " must be non-negative and at most model.n_layer = ", n,
             " (run validate() first)");
  std::vector<std::string> modes(n, "keep");
  for (int i = 0; i < s; ++i) modes[i] = "swap";
  for (int i = s; i < s + w; ++i) modes[i] = "compress_swap";
  const int first = s + w, span = ck + z;
  for (int i = 0; i < span; ++i) modes[first + i] = "compress";
  for (int i = 0; i < ck; ++i)  // round(i * span / ck) in integers; distinct since span >= ck
    modes[first + static_cast<int>((2 * int64_t{i} * span + ck) / (2 * int64_t{ck}))] =
        "checkpoint";
  return modes;
}

}  // namespace mart
