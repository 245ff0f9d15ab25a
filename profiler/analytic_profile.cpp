#include "profiler/analytic_profile.h"

#include <algorithm>

#include "common/error.h"
#include "kernels/layout_ops.h"
#include "memory/activation_manager.h"
#include "runtime/executor.h"
#include "runtime/model/model_states.h"

namespace mart {

ModelProfile model_facts(const ModelSpec& spec, const std::string& name, int T, size_t asz) {
  ModelProfile m;
  const auto& c = spec.cfg;
  m.name = name;
  m.family = family_name(c.family);
  m.n_layer = c.n_layer;
  m.seq_len = T;
  m.d_model = c.d_model;
  m.n_head = c.n_head;
  m.vocab = c.vocab_size;
  m.n_params = spec.n_params;
  m.flops_per_token = flops_per_token(spec, T);
  m.act_bytes = static_cast<int>(asz);
  m.tied_head = spec.lm_head < 0;
  m.tensor_numel = chunk_tensor_sizes(spec);
  m.tensor_glue = chunk_tensor_glue(spec);
  for (auto& p : spec.params) m.tensor_group.push_back(p.group);
  return m;
}

MicroBatchProfile micro_batch_layout(const ModelSpec& spec, const Ops& ops, int B, int T,
                                     bool cuda_codec) {
  const ExecutorLayout L = executor_layout(spec, ops, B, T);
  MicroBatchProfile mb;
  mb.micro_batch = B;
  mb.io_bytes = L.io_bytes;
  mb.inputs_bytes = L.inputs_bytes;
  mb.head_bytes = L.head_bytes;
  mb.scratch_bytes = L.scratch_bytes;
  mb.body_bytes = L.body_bytes;
  mb.body_act_values = L.body.act_values;
  mb.body_stat_bytes = L.body.stat_bytes;
  MART_CHECK(L.body.bytes() == L.body_bytes, "executor layout: body split disagrees with its size");
#ifdef MART_HAVE_CUDA
  if (cuda_codec)
    mb.codec_workspace_bytes = ActivationManager::codec_workspace_bytes(true, L.body.act_values);
#else
  (void)cuda_codec;
#endif
  return mb;
}

std::vector<int> micro_batch_candidates(const JobConfig& cfg, int max_count) {
  const int global = std::max(1, cfg.train.micro_batch * cfg.train.grad_accum);
  std::vector<int> d;
  for (int b = 1; b <= global; ++b)
    if (global % b == 0) d.push_back(b);
  // Too many divisors: keep the powers of two and the configured size (and the largest).
  if (static_cast<int>(d.size()) > max_count) {
    std::vector<int> k;
    for (int b : d)
      if ((b & (b - 1)) == 0 || b == cfg.train.micro_batch) k.push_back(b);
    while (static_cast<int>(k.size()) > max_count) k.erase(k.begin());
    d = k;
  }
  if (std::find(d.begin(), d.end(), cfg.train.micro_batch) == d.end())
    d.push_back(cfg.train.micro_batch), std::sort(d.begin(), d.end());
  return d;
}

std::vector<std::string> runtime_act_modes(bool cuda) {
  std::vector<std::string> m = {"keep", "checkpoint", "swap"};
#ifndef MART_HAVE_CUDA
  if (cuda) return m;  // the CUDA codec's workspace size is only known to a CUDA build
#endif
  m.push_back("compress");
  m.push_back("compress_swap");  // wherever both swap and compress run
  return m;
}

ModelWork model_work(const ModelSpec& spec, int B, int T, size_t asz) {
  const auto& c = spec.cfg;
  const double N = static_cast<double>(B) * T, C = c.d_model, F = c.d_ff, V = c.vocab_size;
  const double QKV = c.qkv_width(), A = static_cast<double>(c.n_head) * c.head_size();
  const ModelFamilyTraits& fam = family_traits(c.family);
  const double Ff = mlp_in_factor(fam.mlp) * F;  // fc width
  ModelWork w;
  // Matmuls: qkv, attention output, fc, projection (2 FLOPs per multiply-add).
  const double mm_qkv = 2 * N * C * QKV, mm_o = 2 * N * A * C, mm_fc = 2 * N * C * Ff,
               mm_proj = 2 * N * F * C;
  // Causal attention: scores and weighted values, each 2*B*NH*T*T*HS, half of it masked.
  const double att = 2.0 * B * c.n_head * static_cast<double>(T) * T * c.head_size();
  // Elementwise traffic in act elements: norms (read + write), rope (llama), the attention's
  // reads of qkv and write of its output, residual adds (2 reads + 1 write), the activation.
  const bool rope_on = fam.positions == PositionKind::Rope;
  const bool learned_pos = fam.positions == PositionKind::Learned;
  const double norms = 2 * (2 * N * C), rope = rope_on ? 2 * N * QKV : 0, att_io = N * QKV + N * A;
  double act = 0;  // the MLP activation: GELU reads fc, writes fc_act; SwiGLU reads gate and up
  switch (fam.mlp) {
    case MlpKind::Gelu:
      act = 2 * N * F;
      break;
    case MlpKind::SwiGlu:
      act = 3 * N * F;
      break;
  }
  const double adds = 2 * (3 * N * C);
  w.fwd_flops = mm_qkv + mm_o + mm_fc + mm_proj + att;
  w.fwd_bytes = asz * (norms + rope + att_io + adds + act);
  w.rec_flops = w.fwd_flops - mm_proj;
  w.rec_bytes = w.fwd_bytes - asz * 3 * N * C;
  // Backward: two matmuls per forward matmul (input and weight gradients); the attention's
  // backward recomputes the scores (5 matmul-sized passes against the forward's 2).
  w.bwd_flops = 2 * (mm_qkv + mm_o + mm_fc + mm_proj) + 2.5 * att;
  w.fwd_att_flops = att;
  w.bwd_att_flops = 2.5 * att;
  w.bwd_bytes = 2 * w.fwd_bytes;
  w.emb_f_bytes = asz * (learned_pos ? 3 : 2) * N * C;  // + the position table's rows
  w.emb_b_bytes = asz * (learned_pos ? 3 : 2) * N * C;
  // Head: final norm forward/backward, logits (2NCV), their input and weight gradients (4NCV),
  // and the softmax's passes over the logits.
  w.head_flops = 6 * N * C * V;
  w.head_bytes = asz * (6 * N * C + 3 * N * V);
  return w;
}

Profile analytic_profile(const JobConfig& cfg, const HardwareProfile& hw) {
  const ModelSpec spec = build_model_spec(cfg.model);
  const bool cuda = hw.backend == "cuda";
  std::unique_ptr<Ops> ops = cuda ? make_cuda_layout_ops() : make_cpu_ops();
  const size_t asz = dtype_size(ops->act_dtype());
  const int T = cfg.train.seq_len;
  MART_CHECK(T <= cfg.model.max_seq_len, "train.seq_len (", T, ") exceeds model.max_seq_len (",
             cfg.model.max_seq_len, ")");
  Profile p;
  p.source = "analytic";
  p.model = model_facts(spec, cfg.name, T, asz);
  p.act_modes = runtime_act_modes(cuda);
  p.hardware = hw;
  for (int B : micro_batch_candidates(cfg, 16)) {
    MicroBatchProfile mb = micro_batch_layout(spec, *ops, B, T, cuda);
    const ModelWork w = model_work(spec, B, T, asz);
    // Matmuls at the achieved matmul rate, fused attention at its own (lower) rate, elementwise
    // traffic at the achieved memory bandwidth; the three do not overlap within a block.
    auto t = [&](double flops, double bytes, double att_flops = 0) {
      return (flops - att_flops) / hw.matmul_flops + att_flops / hw.attention_flops +
             bytes / hw.mem_bw_bps;
    };
    mb.block_forward_s = t(w.fwd_flops, w.fwd_bytes, w.fwd_att_flops);
    mb.block_backward_s = t(w.bwd_flops, w.bwd_bytes, w.bwd_att_flops);
    mb.block_recompute_s = t(w.rec_flops, w.rec_bytes, w.fwd_att_flops);
    mb.embedding_forward_s = t(0, w.emb_f_bytes);
    mb.embedding_backward_s = t(0, w.emb_b_bytes);
    mb.head_s = t(w.head_flops, w.head_bytes);
    p.micro_batches.push_back(mb);
  }
  return p;
}

}  // namespace mart
