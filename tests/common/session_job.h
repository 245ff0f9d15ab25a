// A JobConfig for a test rig's Session: the given model, micro-batch [B,T] and per-block
// activation modes, resident model states, the CPU backend; everything else the defaults (the
// synthetic corpus shrunk to fit a small vocabulary, so the config validates).
#pragma once
#include <algorithm>
#include <string>
#include <vector>

#include "config/job_config.h"
#include "layout/activation_memory.h"

namespace mart::testutil {

inline JobConfig rig_job(const ModelConfig& m, int B, int T, const std::vector<ActMode>& modes) {
  JobConfig c;
  c.name = "test_rig";
  c.backend = "cpu";
  c.model = m;
  c.train.micro_batch = B;
  c.train.seq_len = T;
  c.data.synthetic_vocab = std::min(c.data.synthetic_vocab, m.vocab_size);
  c.data.synthetic_branching = std::min(c.data.synthetic_branching, c.data.synthetic_vocab);
  for (ActMode a : modes) c.activations.modes.push_back(act_mode_name(a));
  return c;
}

}  // namespace mart::testutil
