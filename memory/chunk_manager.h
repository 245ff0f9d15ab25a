// ChunkManager: model states in chunks (docs/DESIGN.md §1). Tensors are packed in execution order
// into equal-capacity chunks (layout/chunk_layout.h). The first n_persist chunks live on
// the device with their Adam states and are updated there; every other chunk lives in pinned host
// memory (params, fp32 master, m, v, grads) and is uploaded into one of n_buffer device buffers
// before use.
//
// Protocol (the executor's side): acquire(group) before touching a group's tensors, release(group)
// after issuing the group's work; per step: zero_grads(), then per micro-batch begin_microbatch()
// and the forward/backward acquisitions, then step().
//
// Pipeline:
//   - uploads run on the H2D stream ahead of use: after each acquire the manager looks ahead in
//     the expected use sequence and fills free buffers (Belady: evict the chunk used furthest in
//     the future). A chunk still in a buffer after forward is reused by backward without upload.
//   - a chunk's gradients are complete when its last backward use of the micro-batch is released;
//     they are copied to host on the D2H stream right then (with grad accumulation, the next
//     micro-batch uploads them back before accumulating more, so results stay bitwise identical).
//   - on the last micro-batch, each chunk's per-tensor sums of squares are reduced on the device
//     as it completes. With clipping off, the CPU AdamW of a chunk is submitted as soon as its
//     gradients land on the host (during backward). With clipping on, step() computes the global
//     norm and then submits the chunk updates in forward order; the next forward's upload of a
//     chunk waits only for that chunk's update, so uploads pipeline behind the CPU updates.
// Invariants:
//   - a buffer's chunk is never evicted while acquired (refs > 0) or while it holds gradients of
//     the current micro-batch not yet copied out (grads_live);
//   - every device write into a buffer is ordered after the buffer's last compute use and after
//     its last gradient offload (stream waits on those events);
//   - host state of a chunk is touched by at most one of {CPU Adam, a copy} at a time: uploads
//     wait for the chunk's pending CPU Adam tickets; CPU Adam is submitted after the offload.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "device/device.h"
#include "kernels/cpu/cpu_adam.h"
#include "kernels/ops.h"
#include "layout/chunk_layout.h"
#include "memory/device_arena.h"

namespace mart {

class HostAllocator;

struct ChunkTensor {
  uint64_t numel = 0;
  int group = 0;       // execution group that uses it
  bool decay = false;  // weight decay applies
};

struct ChunkUse {
  int group;
  bool backward;
};

struct ChunkManagerOptions {
  int n_persist = -1;  // -1: all chunks persistent
  int n_buffer = 2;
  // Expected acquisitions of one micro-batch (forward, then backward), for prefetch and for
  // knowing when a chunk's gradients are complete.
  std::vector<ChunkUse> use_sequence;
  bool trace_copies = false;  // record copy intervals (tests observe overlap with them)
};

struct ChunkOptimizerStep {
  AdamWHyper adam;  // lr, betas, eps, step; weight_decay per tensor from ChunkTensor
  float weight_decay = 0;
  float grad_clip = 0;
};

struct CopyRecord {
  int chunk;
  bool upload;        // H2D (else D2H)
  double start, end;  // seconds on the steady clock
};

// What one traced step's chunk copies and CPU updates did (ChunkManager::set_step_trace; the
// runtime's step trace, runtime/step_trace.h, turns it into timeline spans).
struct ChunkStepTrace {
  struct Copy {
    enum Kind : uint8_t { Upload, GradUpload, Offload } kind;  // GradUpload: accumulation
    int chunk;
    uint64_t bytes;
    Event start, end;  // on the copy's stream (H2D or D2H), around the copy alone
  };
  struct Update {  // the CPU AdamW of one tensor of `chunk`
    int chunk;
    double start_s, end_s;  // std::chrono::steady_clock seconds (since its epoch)
  };
  std::vector<Copy> copies;  // appended by the thread that calls acquire/release
  std::mutex mu;
  std::vector<Update> updates;  // guarded by mu: appended by the CPU Adam pool's workers
};

struct ChunkManagerStats {
  uint64_t uploads = 0, offloads = 0, grad_reuploads = 0, buffer_hits = 0;
  uint64_t upload_bytes = 0, offload_bytes = 0;
  uint64_t device_bytes = 0;  // persistent chunks + buffers + norms
  uint64_t host_bytes = 0;    // pinned host bytes for offloaded chunks
};

class ChunkManager {
 public:
  ChunkManager(Device& dev, Ops& ops, DeviceArena& arena, HostAllocator& host, CpuAdam& adam,
               ChunkLayout layout, std::vector<ChunkTensor> tensors, ChunkManagerOptions opt);
  ~ChunkManager();
  ChunkManager(const ChunkManager&) = delete;
  ChunkManager& operator=(const ChunkManager&) = delete;

  void* param(int t);
  void* grad(int t);
  void acquire(int group, bool backward);
  void release(int group, bool backward);
  void zero_grads();
  // h: the coming step's hyperparameters; nullptr when no step follows (gradient-only passes).
  void begin_microbatch(int index, int count, const ChunkOptimizerStep* h);
  float step(const ChunkOptimizerStep& h);  // returns the pre-clip global gradient norm
  void synchronize();                       // waits for every copy and CPU update in flight

  void read_param(int t, float* host);
  void write_param(int t, const float* host);
  void read_adam(int t, float* m, float* v);
  void write_adam(int t, const float* m, const float* v);
  void read_grad(int t, float* host);

  const ChunkLayout& layout() const { return layout_; }
  int n_persist() const { return n_persist_; }
  const ChunkManagerStats& stats() const { return stats_; }
  std::vector<CopyRecord> copy_log() const;
  // Arms (non-null) or disarms (null) the step trace, between steps: while armed every copy gets
  // an event before it and every CPU update reports its times into `t`. Disarmed, nothing is
  // recorded and no event is added. Before disarming (or destroying `t`) call synchronize(), so
  // that no update still reports into it.
  void set_step_trace(ChunkStepTrace* t) { step_trace_.store(t, std::memory_order_release); }

  // Device bytes this configuration takes from the arena (persistent chunks, buffers, norms).
  static uint64_t device_bytes(const ChunkLayout& L, int n_persist, int n_buffer, DType act,
                               size_t n_tensors);
  // Pinned host bytes for the offloaded chunks.
  static uint64_t host_bytes(const ChunkLayout& L, int n_persist, DType act);

 private:
  struct Chunk;
  struct Buffer;
  bool persistent(int c) const { return c < n_persist_; }
  void* dev_param(int c);
  void* dev_grad(int c);
  void ensure_resident(int c, int seq_pos);
  int pick_victim(int for_chunk, int seq_pos, bool must);
  void upload(int c, int b);
  void init_grads(int c);
  void finish_backward(int c);
  void submit_update(int c, float grad_scale, const ChunkOptimizerStep& hyper);
  void wait_updates(int c);
  void prefetch(int seq_pos);
  int next_use(int c, int seq_pos) const;  // distance in the cyclic use sequence; large = never
  int advance(int group, bool backward);
  void wait_updates_async(int c);
  void* host_grad(int c);

  Device& dev_;
  Ops& ops_;
  DeviceArena& arena_;
  HostAllocator& host_;
  CpuAdam& adam_;
  ChunkLayout layout_;
  std::vector<ChunkTensor> tensors_;
  ChunkManagerOptions opt_;
  DType act_;
  size_t asz_;
  int n_persist_;
  std::vector<std::unique_ptr<Chunk>> chunks_;
  std::vector<Buffer> buffers_;
  std::vector<std::vector<int>> group_chunks_;  // chunks each group touches
  Region norms_;
  int seq_pos_ = -1;
  int mb_index_ = 0, mb_count_ = 1;
  ChunkOptimizerStep pending_;
  bool step_follows_ = false;  // set per micro-batch: may updates start during backward?
  ChunkManagerStats stats_;
  mutable std::mutex log_mu_;
  std::vector<std::shared_ptr<CopyRecord>> traced_;
  std::atomic<ChunkStepTrace*> step_trace_{nullptr};  // read by the D2H worker's updates too
};

}  // namespace mart
