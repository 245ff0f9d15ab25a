// Executor: runs one training step (or an evaluation) of the model under a memory plan. It lays
// out every device buffer once, in a fixed order, in the arena, then runs forward and backward
// block by block, calling into the two memory seams at block boundaries:
//   ModelStates        acquire/release each parameter group (chunk prefetch/offload plugs in here)
//   ActivationManager  forward_begin/end, backward_begin/end per block (keep/recompute/swap/...)
// Device-side layout, in allocation order: model states; tokens and targets [B,T] int32; block
// inputs x_in [L][N,C]; activation bodies; head tensors (xf_in, lnf [N,C], stats, losses [N]);
// scratch (block scratch, dres [N,C], dlnf [N,C], classifier workspace).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "common/step_timeline.h"
#include "kernels/ops.h"
#include "memory/activation_manager.h"
#include "memory/device_arena.h"
#include "runtime/model/model_spec.h"
#include "runtime/model/model_states.h"

namespace mart {

class Device;
class HostAllocator;
class StepTrace;
struct StepTimeline;
struct ChunkUse;

// The order in which one training micro-batch acquires parameter groups (forward, head, backward):
// what the chunk manager prefetches by. Executor::forward_blocks/head/backward_blocks follow it.
std::vector<ChunkUse> executor_use_sequence(const ModelSpec& spec);

// One micro-batch on the host: inputs and targets, [B,T] int32 each (target < 0: ignored).
struct MicroBatch {
  std::vector<int32_t> inputs, targets;
};

struct StepResult {
  double loss = 0;      // mean over valid target tokens of the whole step
  float grad_norm = 0;  // before clipping
  double seconds = 0;   // wall time of the step, device synchronised
  uint64_t tokens = 0;  // valid target tokens
};

struct ExecutorOptions {
  int micro_batch = 1;
  int seq_len = 1;
  std::vector<ActMode> block_modes;  // empty: keep everything
  HostAllocator* host = nullptr;     // pinned memory for swapped blocks (required when any swap)
  ActivationOptions activations;     // compress bound and budget, tracing (act_dtype: from ops)
};

// What the executor will take from the arena besides model states and activation bodies.
struct ExecutorLayout {
  uint64_t io_bytes = 0, inputs_bytes = 0, head_bytes = 0, scratch_bytes = 0;
  uint64_t body_bytes = 0;  // per block
  ActBody body;             // its split: act values + fp32 stats (body.bytes() == body_bytes)
  bool cuda_codec = false;  // compress runs the CUDA codec (whose workspace the budget counts)
};
ExecutorLayout executor_layout(const ModelSpec& spec, const Ops& ops, int B, int T);

class Executor {
 public:
  // `states` must have been created on the same arena (before this executor's regions).
  Executor(const ModelSpec& spec, Device& dev, Ops& ops, DeviceArena& arena, ModelStates& states,
           const ExecutorOptions& opt);
  ~Executor();

  // Forward + backward of every micro-batch (gradients accumulate), then the optimizer step.
  // `timeline` non-null: this step is traced (runtime/step_trace.h) into it, its step number
  // h.step; the results are bitwise those of an untraced step. Chunk copies and CPU updates are
  // in it when the states are chunked (chunk_manager_of finds the manager: not behind a wrapper).
  StepResult train_step(const std::vector<MicroBatch>& mbs, const StepHyper& h,
                        StepTimeline* timeline = nullptr);
  // Forward only; returns the mean loss over valid targets.
  double eval_loss(const MicroBatch& mb);
  // Forward only; the loss of every target, [B*T] row-major into `losses` (0 where ignored), so
  // a caller can sum them in an order that does not depend on the micro-batch size.
  void eval_token_losses(const MicroBatch& mb, std::vector<double>* losses);
  // Forward only; copies logits [B,T,V] (fp32) to `logits` (for parity tests and generation).
  void forward_logits(const MicroBatch& mb, std::vector<float>* logits);
  // Forward + backward of one micro-batch with gradients zeroed first and no optimizer step
  // (for gradient tests). Returns the mean loss.
  double forward_backward(const MicroBatch& mb);

  const ActivationManager& activations() const { return *acts_; }
  ModelStates& states() { return states_; }

 private:
  void upload(const MicroBatch& mb);
  void forward_blocks();
  // Head forward (+ backward when dloss != 0): losses into losses_, dres gets d(xf_in).
  void head(float dloss);
  void backward_blocks();
  double sum_losses();
  // The step trace's compute span around the work between them (nothing when not tracing).
  void span_begin();
  void span_end(SpanKind kind, int block);
  void copy_losses(std::vector<double>* out);  // losses_ to the host, B*T values

  const ModelSpec& spec_;
  Device& dev_;
  Ops& ops_;
  DeviceArena& arena_;
  ModelStates& states_;
  int B_, T_;
  size_t asz_;
  std::unique_ptr<ActivationManager> acts_;
  Region io_, inputs_, head_, scratch_;
  int32_t *tokens_ = nullptr, *targets_ = nullptr;
  std::vector<void*> x_in_;  // [L] block inputs
  void *xf_in_ = nullptr, *lnf_ = nullptr, *dres_ = nullptr, *dlnf_ = nullptr, *cls_ws_ = nullptr;
  float *lnf_mean_ = nullptr, *lnf_rstd_ = nullptr, *losses_ = nullptr;
  void* block_scratch_base_ = nullptr;
  StepTrace* trace_ = nullptr;  // set for the duration of a traced train_step only
};

}  // namespace mart
