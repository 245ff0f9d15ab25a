// A synthetic profile for the pure planner tests: a Llama-shaped model laid out the way
// build_model_spec lays it out (tensor sizes, glue, groups), with round-number memory and times,
// on a made-up GPU. The planner only sees a Profile, so this is all it needs.
#pragma once
#include <cstdint>

#include "planner/profile.h"

namespace mart::test {

struct ToyModel {
  int n_layer = 8, d_model = 1024, d_ff = 2816, vocab = 32000, seq_len = 1024;
  bool tied = false;
};

inline Profile toy_profile(const ToyModel& t = {}, std::vector<int> micro_batches = {1, 2, 4}) {
  Profile p;
  p.source = "analytic";
  auto& m = p.model;
  m.name = "toy";
  m.family = "llama";
  m.n_layer = t.n_layer;
  m.seq_len = t.seq_len;
  m.d_model = t.d_model;
  m.n_head = 16;
  m.vocab = t.vocab;
  m.act_bytes = 2;
  m.tied_head = t.tied;
  const uint64_t C = t.d_model, F = t.d_ff, V = t.vocab;
  auto add = [&](uint64_t n, int group, bool glue = false) {
    m.tensor_numel.push_back(n);
    m.tensor_group.push_back(group);
    m.tensor_glue.push_back(glue);
    m.n_params += n;
  };
  add(V * C, 0);
  for (int l = 0; l < t.n_layer; ++l) {
    const int g = l + 1;
    add(C, g);
    add(C * C, g, true);  // q | k | v
    add(C * C, g, true);
    add(C * C, g);
    add(C * C, g);  // o
    add(C, g);
    add(F * C, g, true);  // gate | up
    add(F * C, g);
    add(C * F, g);  // down
  }
  add(C, t.n_layer + 1);
  if (!t.tied) add(V * C, t.n_layer + 1);
  m.flops_per_token = 6.0 * m.n_params + 6.0 * t.n_layer * C * t.seq_len;
  for (int b : micro_batches) {
    MicroBatchProfile mb;
    const uint64_t N = static_cast<uint64_t>(b) * t.seq_len;
    mb.micro_batch = b;
    mb.io_bytes = N * 8;
    mb.inputs_bytes = N * C * 2 * t.n_layer;
    mb.head_bytes = N * C * 4 + N * 12;
    mb.scratch_bytes = N * (C * 3 + F * 3) * 2;
    mb.body_act_values = N * (C * 6 + F * 3);
    mb.body_stat_bytes = N * 16 * 3;
    mb.body_bytes = mb.body_act_values * 2 + mb.body_stat_bytes;
    // ~ 6 * params-per-block * tokens at 400 TFLOP/s
    const double block_params = 4.0 * C * C + 3.0 * C * F;
    mb.block_forward_s = 2 * block_params * N / 400e12;
    mb.block_backward_s = 2 * mb.block_forward_s;
    mb.block_recompute_s = mb.block_forward_s * 0.85;
    mb.embedding_forward_s = 1e-5;
    mb.embedding_backward_s = 2e-5;
    mb.head_s = 6.0 * C * V * N / 400e12;
    p.micro_batches.push_back(mb);
  }
  p.act_modes = {"keep", "checkpoint", "swap", "compress", "compress_swap"};
  auto& h = p.hardware;
  h.name = "toy-gpu";
  h.estimated = true;
  h.backend = "cuda";
  h.device_memory = 80ull << 30;
  h.host_memory = 512ull << 30;
  h.h2d_bps = h.d2h_bps = 25e9;
  h.h2d_duplex_bps = h.d2h_duplex_bps = 20e9;
  h.cpu_adam_elems_per_s = 2e9;
  h.device_adam_elems_per_s = 60e9;
  h.matmul_flops = 400e12;
  h.attention_flops = 400e12;
  h.peak_flops = 500e12;
  h.mem_bw_bps = 2e12;
  h.codec_bps = 200e9;
  return p;
}

}  // namespace mart::test
