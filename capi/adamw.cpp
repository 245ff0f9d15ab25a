// mart_adamw_*: MART's SIMD CPU AdamW (kernels/cpu/cpu_adam.h) on caller-owned fp32 parameters.
// Each object owns a CpuAdam pool bound to one NUMA node and, per registered tensor, exp_avg and
// exp_avg_sq from the process-wide pinned allocator (capi/host_memory.h) on that node.
#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "capi/capi_guard.h"
#include "capi/host_memory.h"
#include "kernels/cpu/cpu_adam.h"

using mart::str;
using mart::capi::fail;
using mart::capi::guarded;
using mart::capi::require_arg;

namespace {

// Elements of one tensor: its fp32 states stay below HostAllocator's 2^48-byte request limit.
constexpr uint64_t kMaxNumel = 1ull << 46;
constexpr int32_t kMaxThreads = 1024;

struct HostFree {
  void operator()(float* p) const { mart::capi::process_host_allocator().deallocate(p); }
};
using HostFloats = std::unique_ptr<float, HostFree>;

// One registered tensor: its moments ([numel] fp32 each, pinned, on the object's node) and
// whether an update is queued since the last wait (a second one is refused: see step_async).
struct AdamwTensor {
  size_t numel = 0;
  HostFloats m, v;
  bool queued = false;
};

mart::capi::HandleRegistry& registry() {
  static mart::capi::HandleRegistry r(
      {"adamw", "mart_adamw", "mart_adamw_create", "mart_adamw_destroy"});
  return r;
}

}  // namespace

// Members are destroyed in reverse order: the pool drains before the moments are freed.
struct mart_adamw {
  std::atomic<bool> busy{false};
  unsigned node = 0;
  std::vector<AdamwTensor> tensors;
  std::unique_ptr<mart::CpuAdam> adam;
};

namespace {

// Holds a live mart_adamw busy for the duration of a call (capi_guard.h).
using AdamwLease = mart::capi::HandleLease<mart_adamw>;

AdamwTensor& tensor_of(mart_adamw* a, int64_t id) {
  if (id < 0 || static_cast<uint64_t>(id) >= a->tensors.size())
    fail(MART_ERR_INVALID_ARGUMENT,
         str("tensor id ", id, " is not registered: this mart_adamw has ", a->tensors.size(),
             " tensor(s), ids 0..", static_cast<int64_t>(a->tensors.size()) - 1,
             " (register one with mart_adamw_add_tensor)"));
  return a->tensors[static_cast<size_t>(id)];
}

void require_numel(const AdamwTensor& t, int64_t id, size_t numel) {
  if (numel != t.numel)
    fail(MART_ERR_INVALID_ARGUMENT,
         str("numel is ", numel, " but tensor ", id, " was registered with ", t.numel,
             " elements; pass arrays of exactly that size"));
}

// Blocks until every queued update is done; the tensors may be queued again afterwards, also
// when an update failed (wait_all rethrows only after every job has finished).
// Updates are validated when queued, so one failing in the pool is a bug: MART_ERR_INTERNAL.
void wait_all(mart_adamw* a) {
  std::string error;
  try {
    a->adam->wait_all();
  } catch (const std::exception& e) {
    error = e.what();
  }
  for (AdamwTensor& t : a->tensors) t.queued = false;
  if (!error.empty())
    fail(MART_ERR_INTERNAL, "a queued AdamW update failed (please report): " + error +
                                "; the tensors it covered are unspecified, reload them");
}

mart::AdamWHyper to_hyper(const mart_adamw_step_params& p) {
  if (p.step < 1 || p.step > INT_MAX)
    fail(MART_ERR_INVALID_ARGUMENT,
         str("step is ", p.step, "; it is the 1-based AdamW step of this tensor (for the bias ",
             "corrections), so 1 on the first update, in [1, ", INT_MAX, "]"));
  mart::AdamWHyper h;
  h.lr = p.lr;
  h.beta1 = p.beta1;
  h.beta2 = p.beta2;
  h.eps = p.eps;
  h.weight_decay = p.weight_decay;
  h.step = static_cast<int>(p.step);
  h.grad_scale = 1.0f;
  mart::cpu::adamw_consts(h);  // throws naming a hyperparameter out of range
  return h;
}

bool overlaps(const void* a, const void* b, size_t bytes) {
  const auto x = reinterpret_cast<uintptr_t>(a), y = reinterpret_cast<uintptr_t>(b);
  return x < y + bytes && y < x + bytes;
}

std::unique_ptr<mart::CpuAdam> make_pool(const mart_adamw_params& p, unsigned node) {
  if (p.n_threads < 0 || p.n_threads > kMaxThreads)
    fail(MART_ERR_INVALID_ARGUMENT, str("n_threads is ", p.n_threads, "; pass 0 (one per CPU of ",
                                        "the NUMA node) or a count in [1, ", kMaxThreads, "]"));
  mart::CpuAdamOptions o;
  o.pus = mart::capi::process_topology().pus_of_node(node);  // empty for a CPU-less node
  o.threads = p.n_threads ? p.n_threads : static_cast<int>(o.pus.size());
  return std::make_unique<mart::CpuAdam>(o);
}

}  // namespace

extern "C" {

mart_adamw_params mart_adamw_default_params(void) {
  mart_adamw_params p;
  p.n_threads = 0;
  p.numa_node = -1;
  return p;
}

// torch.optim.AdamW's defaults.
mart_adamw_step_params mart_adamw_default_step_params(void) {
  mart_adamw_step_params p;
  p.lr = 1e-3f;
  p.beta1 = 0.9f;
  p.beta2 = 0.999f;
  p.eps = 1e-8f;
  p.weight_decay = 1e-2f;
  p.step = 1;
  return p;
}

mart_status mart_adamw_create(mart_adamw_params params, mart_adamw** out) {
  return guarded("mart_adamw_create", MART_ERR_INVALID_ARGUMENT, [&] {
    require_arg(out, "out");
    auto a = std::make_unique<mart_adamw>();
    a->node = mart::capi::resolve_numa_node(params.numa_node, "params.numa_node");
    a->adam = make_pool(params, a->node);
    registry().add(a.get());
    *out = a.release();
  });
}

mart_status mart_adamw_destroy(mart_adamw* adamw) {
  return guarded("mart_adamw_destroy", MART_ERR_INTERNAL, [&] {
    if (!adamw) return;
    registry().acquire_and_remove(adamw);  // later calls get MART_ERR_INVALID_HANDLE
    delete adamw;                          // the pool drains its queue first (member order)
  });
}

mart_status mart_adamw_add_tensor(mart_adamw* adamw, size_t numel, int64_t* out_id) {
  return guarded("mart_adamw_add_tensor", MART_ERR_INVALID_ARGUMENT, [&] {
    AdamwLease lease(registry(), adamw);
    require_arg(out_id, "out_id");
    if (numel > kMaxNumel)
      fail(MART_ERR_OUT_OF_MEMORY, str("a tensor of ", numel, " elements is beyond any machine ",
                                       "(at most 2^46); is numel a negative number?"));
    AdamwTensor t;
    t.numel = numel;
    const size_t bytes = numel * sizeof(float);
    t.m.reset(static_cast<float*>(mart::capi::host_allocate(bytes, adamw->node)));
    t.v.reset(static_cast<float*>(mart::capi::host_allocate(bytes, adamw->node)));
    if (numel) std::memset(t.m.get(), 0, bytes);
    if (numel) std::memset(t.v.get(), 0, bytes);
    adamw->tensors.push_back(std::move(t));
    *out_id = static_cast<int64_t>(adamw->tensors.size()) - 1;
  });
}

mart_status mart_adamw_step_async(mart_adamw* adamw, int64_t id, float* param, const float* grad,
                                  size_t numel, mart_adamw_step_params params) {
  return guarded("mart_adamw_step_async", MART_ERR_INVALID_ARGUMENT, [&] {
    AdamwLease lease(registry(), adamw);
    AdamwTensor& t = tensor_of(adamw, id);
    require_numel(t, id, numel);
    if (t.queued)
      fail(MART_ERR_INVALID_ARGUMENT,
           str("tensor ", id, " already has an update queued; call mart_adamw_wait before ",
               "queueing it again (its arrays belong to that update until then)"));
    const mart::AdamWHyper h = to_hyper(params);
    if (numel == 0) return;  // nothing to update; the hyperparameters were still checked
    require_arg(param, "param");
    require_arg(grad, "grad");
    if (overlaps(param, grad, numel * sizeof(float)))
      fail(MART_ERR_INVALID_ARGUMENT, "`param` and `grad` overlap; pass separate arrays");
    mart::AdamChunk c;
    c.grad = grad;
    c.grad_dtype = mart::DType::F32;
    c.master = param;
    c.m = t.m.get();
    c.v = t.v.get();
    c.out = nullptr;
    c.n = numel;
    adamw->adam->submit(c, h);
    t.queued = true;
  });
}

mart_status mart_adamw_wait(mart_adamw* adamw) {
  return guarded("mart_adamw_wait", MART_ERR_INTERNAL, [&] {
    AdamwLease lease(registry(), adamw);
    wait_all(adamw);
  });
}

mart_status mart_adamw_get_state(mart_adamw* adamw, int64_t id, float* exp_avg, float* exp_avg_sq,
                                 size_t numel) {
  return guarded("mart_adamw_get_state", MART_ERR_INVALID_ARGUMENT, [&] {
    AdamwLease lease(registry(), adamw);
    AdamwTensor& t = tensor_of(adamw, id);
    require_numel(t, id, numel);
    if (numel == 0) return;
    require_arg(exp_avg, "exp_avg");
    require_arg(exp_avg_sq, "exp_avg_sq");
    wait_all(adamw);
    std::memcpy(exp_avg, t.m.get(), numel * sizeof(float));
    std::memcpy(exp_avg_sq, t.v.get(), numel * sizeof(float));
  });
}

mart_status mart_adamw_set_state(mart_adamw* adamw, int64_t id, const float* exp_avg,
                                 const float* exp_avg_sq, size_t numel) {
  return guarded("mart_adamw_set_state", MART_ERR_INVALID_ARGUMENT, [&] {
    AdamwLease lease(registry(), adamw);
    AdamwTensor& t = tensor_of(adamw, id);
    require_numel(t, id, numel);
    if (numel == 0) return;
    require_arg(exp_avg, "exp_avg");
    require_arg(exp_avg_sq, "exp_avg_sq");
    wait_all(adamw);
    std::memcpy(t.m.get(), exp_avg, numel * sizeof(float));
    std::memcpy(t.v.get(), exp_avg_sq, numel * sizeof(float));
  });
}

}  // extern "C"
