// ChunkedStates: ModelStates on top of the generic ChunkManager (memory/chunk_manager.h).
#include <algorithm>

#include "common/error.h"
#include "common/units.h"
#include "layout/resident_sets.h"
#include "memory/chunk_manager.h"
#include "runtime/executor.h"
#include "runtime/model/model_states.h"

namespace mart {
namespace {

ChunkOptimizerStep to_chunk_step(const StepHyper& h) {
  ChunkOptimizerStep s;
  s.adam.lr = h.lr;
  s.adam.beta1 = h.beta1;
  s.adam.beta2 = h.beta2;
  s.adam.eps = h.eps;
  s.adam.step = h.step;
  s.weight_decay = h.weight_decay;
  s.grad_clip = h.grad_clip;
  return s;
}

class ChunkedStates final : public ModelStates {
 public:
  ChunkedStates(const ModelSpec& spec, std::unique_ptr<ChunkManager> cm)
      : spec_(spec), cm_(std::move(cm)) {}
  void* param(int id) override { return cm_->param(id); }
  void* grad(int id) override { return cm_->grad(id); }
  void acquire(int g, Pass p) override { cm_->acquire(g, p == Pass::Backward); }
  void release(int g, Pass p) override { cm_->release(g, p == Pass::Backward); }
  void zero_grads() override { cm_->zero_grads(); }
  void begin_microbatch(int i, int n, const StepHyper* h) override {
    if (h) {
      const ChunkOptimizerStep s = to_chunk_step(*h);
      cm_->begin_microbatch(i, n, &s);
    } else {
      cm_->begin_microbatch(i, n, nullptr);
    }
  }
  float step(const StepHyper& h) override { return cm_->step(to_chunk_step(h)); }
  void read_param(int id, float* host) override { cm_->read_param(id, host); }
  void write_param(int id, const float* host) override { cm_->write_param(id, host); }
  void read_adam(int id, float* m, float* v) override { cm_->read_adam(id, m, v); }
  void read_grad(int id, float* host) override { cm_->read_grad(id, host); }
  void write_adam(int id, const float* m, const float* v) override { cm_->write_adam(id, m, v); }
  std::string describe() const override {
    const auto& L = cm_->layout();
    return "chunked: " + std::to_string(L.n_chunks()) + " chunks of " +
           std::to_string(L.chunk_elems) + " elements, " + std::to_string(cm_->n_persist()) +
           " persistent on the device";
  }
  ChunkManager& manager() { return *cm_; }

 private:
  const ModelSpec& spec_;
  std::unique_ptr<ChunkManager> cm_;
};

}  // namespace

int min_chunk_buffers(const ModelSpec& spec, const ChunkLayout& L, int n_persist) {
  const int np = n_persist < 0 ? L.n_chunks() : n_persist;
  // The chunks each group touches, and the executor's acquisition order; the planner's
  // resident_chunk_sets says what must be resident together (tied head, live gradients).
  std::vector<std::vector<int>> group_chunks(spec.n_groups());
  for (size_t t = 0; t < spec.params.size(); ++t) {
    auto& g = group_chunks[spec.params[t].group];
    if (std::find(g.begin(), g.end(), L.tensor_chunk[t]) == g.end()) g.push_back(L.tensor_chunk[t]);
  }
  std::vector<std::pair<int, bool>> order;
  for (const ChunkUse& u : executor_use_sequence(spec)) order.push_back({u.group, u.backward});
  const int head = spec.lm_head < 0 ? spec.head_group() : -1;
  return min_buffers_of_sets(resident_chunk_sets(order, group_chunks, head), np);
}

std::vector<bool> chunk_tensor_glue(const ModelSpec& spec) {
  std::vector<bool> g;
  for (auto& p : spec.params) g.push_back(p.glued_to_next);
  return g;
}

std::vector<uint64_t> chunk_tensor_sizes(const ModelSpec& spec) {
  std::vector<uint64_t> n;
  for (auto& p : spec.params) n.push_back(p.numel);
  return n;
}

std::unique_ptr<ModelStates> make_chunked_states(const ModelSpec& spec, Device& dev, Ops& ops,
                                                 DeviceArena& arena, HostAllocator& host,
                                                 CpuAdam& adam, const ChunkedStatesOptions& o) {
  auto sizes = chunk_tensor_sizes(spec);
  const auto glue = chunk_tensor_glue(spec);
  uint64_t e =
      o.chunk_elems ? o.chunk_elems : choose_chunk_elems(sizes, dtype_size(ops.act_dtype()), glue);
  std::vector<ChunkTensor> tensors;
  for (auto& p : spec.params) tensors.push_back({p.numel, p.group, p.decay});
  ChunkManagerOptions co;
  co.n_persist = o.n_persist;
  co.n_buffer = o.n_buffer;
  co.use_sequence = executor_use_sequence(spec);
  co.trace_copies = o.trace_copies;
  ChunkLayout layout = layout_chunks(sizes, e, glue);
  const int need = min_chunk_buffers(spec, layout, o.n_persist);
  MART_CHECK(!o.check_buffers || o.n_buffer >= need, "memory.n_buffer = ", o.n_buffer,
             " is too small for this chunk "
             "layout: a parameter group spans ",
             need, " offloaded chunks of ", format_bytes(e * dtype_size(ops.act_dtype())),
             " that must be on the device at once; "
             "set memory.n_buffer >= ",
             need, " or a larger memory.chunk_size");
  auto cm = std::make_unique<ChunkManager>(dev, ops, arena, host, adam, std::move(layout),
                                           std::move(tensors), co);
  return wrap_chunk_manager(spec, std::move(cm));
}

std::unique_ptr<ModelStates> wrap_chunk_manager(const ModelSpec& spec,
                                                std::unique_ptr<ChunkManager> manager) {
  MART_CHECK(manager != nullptr, "wrap_chunk_manager: no chunk manager given");
  return std::make_unique<ChunkedStates>(spec, std::move(manager));
}

ChunkManager* chunk_manager_of(ModelStates& states) {
  auto* c = dynamic_cast<ChunkedStates*>(&states);
  return c ? &c->manager() : nullptr;
}

}  // namespace mart
