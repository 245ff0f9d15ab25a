// The analytic profile: what the planner needs, computed from the model and a hardware
// description, with no device. Memory is exact (the executor's own executor_layout with the
// hardware's backend: the real CPU ops, or layout-only CUDA ops); times are FLOPs and bytes per
// block (matmuls, the causal attention's T^2 terms, elementwise traffic) divided by the
// hardware's achieved matmul FLOP/s and memory bandwidth, so they are estimates.
#pragma once
#include <string>
#include <vector>

#include "config/job_config.h"
#include "kernels/ops.h"
#include "planner/profile.h"
#include "runtime/model/model_spec.h"

namespace mart {

// Model facts: shape, FLOPs per token, tensor sizes, glue and groups in execution order.
ModelProfile model_facts(const ModelSpec& spec, const std::string& name, int seq_len,
                         size_t act_bytes);
// Exact executor memory of one micro-batch size (times left at 0).
MicroBatchProfile micro_batch_layout(const ModelSpec& spec, const Ops& ops, int B, int T,
                                     bool cuda_codec);
// Micro-batch sizes worth profiling: the divisors of the global batch (micro_batch * grad_accum),
// at most `max_count` of them, always including the configured micro-batch.
std::vector<int> micro_batch_candidates(const JobConfig& cfg, int max_count = 8);
// Activation modes the runtime can run for this backend ("compress" on CUDA needs a CUDA build,
// which knows the codec's workspace).
std::vector<std::string> runtime_act_modes(bool cuda);

// FLOPs and memory traffic of one block and of the ends of the model, per micro-batch.
struct ModelWork {
  double fwd_flops = 0, fwd_bytes = 0;  // a block's forward
  double bwd_flops = 0, bwd_bytes = 0;  // its backward
  double rec_flops = 0, rec_bytes = 0;  // a checkpointed block's recompute (no output projection)
  double emb_f_bytes = 0, emb_b_bytes = 0;
  double head_flops = 0, head_bytes = 0;  // final norm + classifier, forward and backward
  // The fused attention's share of fwd/bwd/rec_flops, which runs at the hardware's attention rate
  // rather than its matmul rate.
  double fwd_att_flops = 0, bwd_att_flops = 0;
};
ModelWork model_work(const ModelSpec& spec, int B, int T, size_t act_bytes);

Profile analytic_profile(const JobConfig& cfg, const HardwareProfile& hw);

}  // namespace mart
