// Copies really overlap compute. The chunk manager's copy log gives the steady-clock interval of
// every upload and gradient offload as run by the copy-stream workers; a ModelStates wrapper
// stamps the interval in which the executor computes each parameter group (between acquire
// returning and release: on the CPU backend compute runs inline on the calling thread, and
// acquire returns only once the group's chunks are in their buffers). Some upload of a chunk the
// computing group does not use (a prefetch for a later group) must lie in a compute interval, and
// some gradient offload must run while a later block's backward computes.
//
// Robust on two busy cores: blocks are big enough that each computes for milliseconds while a
// chunk copy takes about a hundred microseconds, and up to 10 steps are searched for one overlap of
// each kind (not a fraction of them).
#include <gtest/gtest.h>

#include "tests/runtime_chunks/chunk_test_util.h"

namespace mart::chunks {
namespace {

struct ComputeInterval {
  int group;
  bool backward;
  double start, end;
};

// Forwards everything to the wrapped states; stamps each acquire..release interval.
class TimedStates : public ModelStates {
 public:
  explicit TimedStates(std::unique_ptr<ModelStates> inner) : in_(std::move(inner)) {}
  void* param(int id) override { return in_->param(id); }
  void* grad(int id) override { return in_->grad(id); }
  void acquire(int g, Pass p) override {
    in_->acquire(g, p);
    open_.push_back({g, p == Pass::Backward, steady_now_s(), 0});
  }
  void release(int g, Pass p) override {
    const double now = steady_now_s();
    for (auto it = open_.rbegin(); it != open_.rend(); ++it)
      if (it->group == g && it->backward == (p == Pass::Backward)) {
        it->end = now;
        done_.push_back(*it);
        open_.erase(std::next(it).base());
        break;
      }
    in_->release(g, p);
  }
  void zero_grads() override { in_->zero_grads(); }
  void begin_microbatch(int i, int n, const StepHyper* h) override {
    in_->begin_microbatch(i, n, h);
  }
  float step(const StepHyper& h) override { return in_->step(h); }
  void read_param(int id, float* host) override { in_->read_param(id, host); }
  void write_param(int id, const float* host) override { in_->write_param(id, host); }
  void read_adam(int id, float* m, float* v) override { in_->read_adam(id, m, v); }
  void read_grad(int id, float* host) override { in_->read_grad(id, host); }
  void write_adam(int id, const float* m, const float* v) override { in_->write_adam(id, m, v); }
  std::string describe() const override { return in_->describe(); }

  const std::vector<ComputeInterval>& intervals() const { return done_; }
  void clear() { done_.clear(); }

 private:
  std::unique_ptr<ModelStates> in_;
  std::vector<ComputeInterval> open_, done_;
};

// Four Llama blocks of width 256 (about 0.6M parameters, 2.4 MB fp32, each): a block's forward
// is a few hundred MFLOP on 256 tokens. 1 MiB chunks hold the largest glued run (gate|up) exactly,
// so each block spans three or four chunks.
ModelConfig wide_model() {
  ModelConfig m = small_model(ModelFamily::Llama, 4, 256);
  m.n_head = 8;
  m.n_kv_head = 4;
  m.d_ff = 512;
  m.vocab_size = 256;
  m.max_seq_len = 64;
  return m;
}

bool overlaps(double a0, double a1, double b0, double b1) {
  return a0 < b1 && b0 < a1;
}

TEST(ChunkOverlap, UploadsAndOffloadsRunWhileBlocksCompute) {
  const ModelConfig m = wide_model();
  const ModelSpec spec = build_model_spec(m);
  RigOptions o;
  o.chunked = true;
  o.direct_manager = true;
  o.trace_copies = true;
  o.chunk_bytes = 1 << 20;
  o.B = 4;
  o.T = 64;
  o.n_persist = 0;
  const ChunkLayout L = layout_for(spec, o.chunk_bytes);
  // Room for the computing group and the next one: prefetch can run ahead.
  o.n_buffer = 2 * min_chunk_buffers(spec, L, 0);
  ASSERT_LT(o.n_buffer, L.n_chunks()) << "the buffers must not hold the whole model";
  TimedStates* timed = nullptr;
  o.wrap_states = [&](std::unique_ptr<ModelStates> s) {
    auto t = std::make_unique<TimedStates>(std::move(s));
    timed = t.get();
    return std::unique_ptr<ModelStates>(std::move(t));
  };
  ChunkRig rig(m, o);
  ASSERT_NE(timed, nullptr);

  auto group_uses = [&](int group, int chunk) {
    for (size_t t = 0; t < spec.params.size(); ++t)
      if (spec.params[t].group == group && L.tensor_chunk[t] == chunk) return true;
    return false;
  };
  int prefetch_overlaps = 0, offload_overlaps = 0, steps = 0;
  double compute_s = 0;
  RunOptions r;
  r.grad_clip = 1.0f;
  for (int s = 1; s <= 10 && (prefetch_overlaps == 0 || offload_overlaps == 0); ++s, ++steps) {
    timed->clear();
    rig.exec->train_step(step_batches(rig, s, 1), hyper_at(r, s));
    // train_step ends with the device synchronised: every record below is complete.
    const auto copies = rig.manager().copy_log();
    ASSERT_FALSE(copies.empty());
    for (const ComputeInterval& c : timed->intervals()) {
      compute_s += c.end - c.start;
      for (const CopyRecord& k : copies) {
        ASSERT_LE(k.start, k.end);
        if (!overlaps(k.start, k.end, c.start, c.end)) continue;
        if (k.upload && !group_uses(c.group, k.chunk)) ++prefetch_overlaps;
        // A block's gradients leave while an earlier block's backward computes.
        if (!k.upload && c.backward && !group_uses(c.group, k.chunk)) ++offload_overlaps;
      }
    }
  }
  EXPECT_GT(prefetch_overlaps, 0) << "no prefetch upload overlapped compute in " << steps
                                  << " steps (" << compute_s << " s of compute)";
  EXPECT_GT(offload_overlaps, 0) << "no gradient offload overlapped backward compute in " << steps
                                 << " steps";
  EXPECT_GT(rig.manager().stats().buffer_hits, 0u);
}

}  // namespace
}  // namespace mart::chunks
