// Tests spell block counts positionally, as the job configs list their keys.
#pragma once
#include "layout/act_mode.h"

namespace mart::test {

inline ModeCounts mode_counts(int swap, int checkpoint, int compress, int compress_swap = 0) {
  ModeCounts n;
  n[ActMode::Swap] = swap;
  n[ActMode::Checkpoint] = checkpoint;
  n[ActMode::Compress] = compress;
  n[ActMode::CompressSwap] = compress_swap;
  return n;
}

}  // namespace mart::test
