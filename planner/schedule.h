// Builds the operations of simulated training steps (cost_model.h) by replaying the runtime's
// decisions: the executor's call order (runtime/executor.cpp), the chunk manager's bookkeeping
// (memory/chunk_manager.cpp: buffers, Belady victims, lookahead prefetch, gradient offload, CPU
// updates) and the activation manager's copies (memory/activation_manager.cpp). Each runtime
// function has a same-named member here that issues the same device work in the same order, so a
// reader can check one against the other line by line. Decisions depend only on bookkeeping, never
// on timing, so the replay is exact; timing comes from EventSim afterwards.
//
// Issue semantics: a device operation may not start before the host issued it. On a GPU the host
// runs ahead and only stops at synchronisations (Host resource); on the CPU backend the host IS
// the compute stream (compute runs inline), so every compute operation and compute-stream wait
// also holds back everything issued after it.
//
// compress_swap copies are priced at the budget (compress_swap_host_bytes, the most an encoding
// may fill): the runtime copies the bytes the encoding actually fills, which depend on the data,
// so the predicted copy time is an upper bound (an encoding over budget is recomputed instead,
// like a checkpointed block, and not copied; the replay does not model that fallback).
#pragma once
#include <cstdint>
#include <vector>

#include "planner/cost_model.h"

namespace mart {

class Schedule {
 public:
  using OpId = EventSim::OpId;
  Schedule(const CostContext& ctx, const PlanChoice& plan, const CostOptions& opt, EventSim& sim);
  // Issues `steps` optimizer steps (train_step), one after the other.
  void build(int steps);

  std::vector<OpId> step_end;  // host point after each step's final synchronize
  uint64_t uploads = 0, upload_bytes = 0, offloads = 0, offload_bytes = 0, swap_bytes = 0;

 private:
  struct Chunk {
    int buf = -1, refs = 0, bwd_uses_per_mb = 0, bwd_uses_left = 0, mb_done = 0;
    bool grads_live = false, tickets = false;
    OpId offloaded = -1, adam = -1;
  };
  struct Buffer {
    int chunk = -1;
    OpId ready = -1, last_use = -1, offloaded = -1;
  };

  // Issuing.
  OpId dev_op(Resource r, double work, std::initializer_list<OpId> deps, const char* name,
              int tag = -1);
  void stream_wait(Resource r, OpId ev);
  void host_sync(std::initializer_list<OpId> deps);
  OpId record(Resource r) const { return last_[static_cast<int>(r)]; }

  // Executor.
  void train_step();
  void forward_blocks();
  void head();
  void backward_blocks();

  // Chunk manager.
  bool persistent(int c) const { return c < np_; }
  double chunk_bytes(int c) const;  // used bytes of the chunk's params (or grads)
  int advance(int group, bool backward);
  int next_use(int c, int pos) const;
  int pick_victim(int for_chunk, int pos, bool must);
  void upload(int c, int b);
  void ensure_resident(int c, int pos);
  void prefetch(int pos);
  void init_grads(int c);
  void acquire(int group, bool backward);
  void release(int group, bool backward);
  void finish_backward(int c);
  void zero_grads();
  void step();

  // Activation manager. swap and compress_swap each have their own staging slots, indices (in
  // forward order among the blocks of that mode) and slot bookkeeping.
  int slot_of(int b) const { return swap_index_[b] % stages_; }
  int cslot_of(int b) const { return cswap_index_[b] % cstages_; }
  void act_forward_begin(int b);
  void act_forward_end(int b);
  bool act_backward_begin(int b);  // true: recompute first
  void act_backward_end(int b);
  OpId copy_out(int b, double bytes, const char* name);
  OpId copy_in(int b, double bytes, const char* name);
  void swap_out(int b);
  void swap_in(int b);
  void codec(int b, const char* what);  // encode or decode one block on the compute stream
  void cswap_out(int b);
  void cswap_in(int b);

  const CostContext& ctx_;
  const PlanChoice& plan_;
  const CostOptions& opt_;
  EventSim& sim_;
  const HardwareProfile& hw_;
  const MicroBatchProfile& mb_;
  bool inline_;  // compute runs on the host thread (CPU backend)
  double asz_;
  int L_, nc_, np_, nb_;
  OpId host_ = -1;
  OpId last_[kResources];
  std::vector<Chunk> chunks_;
  std::vector<Buffer> bufs_;
  std::vector<int> wanted_;  // prefetch scratch
  int seq_pos_ = -1, mb_index_ = 0;
  std::vector<ActMode> modes_;
  int stages_ = 0;
  std::vector<int> swap_index_, swap_blocks_;
  std::vector<char> host_body_;  // per block: swap or compress_swap block with a host copy
  std::vector<OpId> host_ready_, slot_copy_;
  int cstages_ = 0;
  double cswap_bytes_ = 0;  // one compress_swap copy, at the budget
  std::vector<int> cswap_index_, cswap_blocks_;
  std::vector<OpId> cslot_copy_;
};

}  // namespace mart
