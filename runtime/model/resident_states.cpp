// ResidentStates: the all-on-device implementation of ModelStates.
#include <cmath>
#include <vector>

#include "common/error.h"
#include "common/error_kinds.h"
#include "device/device.h"
#include "memory/device_arena.h"
#include "runtime/model/model_states.h"

namespace mart {

float global_norm_from_sumsq(const float* per_tensor, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += per_tensor[i];
  return static_cast<float>(std::sqrt(s));
}

float clip_scale(float norm, float grad_clip) {
  if (grad_clip <= 0 || !(norm > grad_clip)) return 1.0f;
  return grad_clip / (norm + 1e-6f);
}

namespace {

class ResidentStates final : public ModelStates {
 public:
  ResidentStates(const ModelSpec& spec, Device& dev, Ops& ops, DeviceArena& arena)
      : spec_(spec), dev_(dev), ops_(ops), arena_(arena) {
    const uint64_t n = spec.n_params, asz = dtype_size(ops.act_dtype());
    params_ = arena.alloc(n * asz, "params");
    grads_ = arena.alloc(n * asz, "grads");
    m_ = arena.alloc(n * 4, "adam_m");
    v_ = arena.alloc(n * 4, "adam_v");
    // fp32 master copies exist only for 16-bit params (fp32 and the F64 reference are their own).
    if (asz == 2) master_ = arena.alloc(n * 4, "master");
    norms_ = arena.alloc(spec.params.size() * 4, "grad_norms");
    dev.memset_async(m_.ptr, 0, m_.bytes, kComputeStream);
    dev.memset_async(v_.ptr, 0, v_.bytes, kComputeStream);
    dev.synchronize_stream(kComputeStream);
  }
  ~ResidentStates() override {
    for (Region* r : {&norms_, &master_, &v_, &m_, &grads_, &params_})
      if (*r) arena_.free(*r);
  }

  void* param(int id) override { return at(params_, id, dtype_size(ops_.act_dtype())); }
  void* grad(int id) override { return at(grads_, id, dtype_size(ops_.act_dtype())); }
  void acquire(int, Pass) override {}
  void release(int, Pass) override {}
  void zero_grads() override { dev_.memset_async(grads_.ptr, 0, grads_.bytes, kComputeStream); }

  float step(const StepHyper& h) override {
    const size_t nt = spec_.params.size();
    float* norms = static_cast<float*>(norms_.ptr);
    for (size_t i = 0; i < nt; ++i)
      ops_.sumsq(norms + i, grad(static_cast<int>(i)), spec_.params[i].numel);
    std::vector<float> host(nt);
    dev_.memcpy_async(host.data(), norms, nt * 4, CopyKind::DeviceToHost, kComputeStream);
    dev_.synchronize_stream(kComputeStream);
    float norm = global_norm_from_sumsq(host.data(), nt);
    if (!std::isfinite(norm))
      MART_FAIL_NUMERIC("training diverged: the gradient norm is ", norm, " at step ", h.step,
                        " (lower train.lr or enable train.grad_clip)");
    AdamWHyper a;
    a.lr = h.lr;
    a.beta1 = h.beta1;
    a.beta2 = h.beta2;
    a.eps = h.eps;
    a.step = h.step;
    a.grad_scale = clip_scale(norm, h.grad_clip);
    for (size_t i = 0; i < nt; ++i) {
      const ParamInfo& p = spec_.params[i];
      a.weight_decay = p.decay ? h.weight_decay : 0.0f;
      ops_.adamw_update(param(i), master_ ? f32(master_, i) : nullptr, grad(i), f32(m_, i),
                        f32(v_, i), p.numel, a, seed(h.step, i));
    }
    return norm;
  }

  void read_param(int id, float* host) override {
    if (master_) return copy_out(master_, id, 4, host);
    read_act(params_, id, host);
  }
  void write_param(int id, const float* host) override {
    const ParamInfo& p = spec_.params[id];
    const size_t asz = dtype_size(ops_.act_dtype());
    if (master_)
      dev_.memcpy_async(f32(master_, id), host, p.numel * 4, CopyKind::HostToDevice,
                        kComputeStream);
    // The act-dtype copy: bf16 rounding, fp32 as is, or widened to fp64 (reference backend).
    std::vector<char> buf(p.numel * asz);
    for (uint64_t i = 0; i < p.numel; ++i) {
      if (asz == 2)
        reinterpret_cast<uint16_t*>(buf.data())[i] = f32_to_bf16(host[i]);
      else if (asz == 8)
        reinterpret_cast<double*>(buf.data())[i] = host[i];
      else
        reinterpret_cast<float*>(buf.data())[i] = host[i];
    }
    dev_.memcpy_async(param(id), buf.data(), buf.size(), CopyKind::HostToDevice, kComputeStream);
    dev_.synchronize_stream(kComputeStream);
  }
  void read_adam(int id, float* m, float* v) override {
    copy_out(m_, id, 4, m);
    copy_out(v_, id, 4, v);
  }
  void read_grad(int id, float* host) override { read_act(grads_, id, host); }
  void write_adam(int id, const float* m, const float* v) override {
    const uint64_t n = spec_.params[id].numel;
    dev_.memcpy_async(f32(m_, id), m, n * 4, CopyKind::HostToDevice, kComputeStream);
    dev_.memcpy_async(f32(v_, id), v, n * 4, CopyKind::HostToDevice, kComputeStream);
    dev_.synchronize_stream(kComputeStream);
  }
  std::string describe() const override { return "resident (all model states on the device)"; }

 private:
  void* at(const Region& r, int id, size_t elem) {
    return static_cast<char*>(r.ptr) + spec_.params[id].offset * elem;
  }
  float* f32(const Region& r, int id) { return static_cast<float*>(at(r, id, 4)); }
  // Host fp32 copy of an act-dtype tensor (params or grads).
  void read_act(const Region& r, int id, float* host) {
    const uint64_t n = spec_.params[id].numel;
    const size_t asz = dtype_size(ops_.act_dtype());
    std::vector<char> buf(n * asz);
    dev_.memcpy_async(buf.data(), at(r, id, asz), buf.size(), CopyKind::DeviceToHost,
                      kComputeStream);
    dev_.synchronize_stream(kComputeStream);
    for (uint64_t i = 0; i < n; ++i) {
      if (asz == 2)
        host[i] = bf16_to_f32(reinterpret_cast<uint16_t*>(buf.data())[i]);
      else if (asz == 8)
        host[i] = static_cast<float>(reinterpret_cast<double*>(buf.data())[i]);
      else
        host[i] = reinterpret_cast<float*>(buf.data())[i];
    }
  }
  void copy_out(const Region& r, int id, size_t elem, float* host) {
    const uint64_t n = spec_.params[id].numel;
    MART_CHECK(elem == 4, "read of non-fp32 state");
    dev_.memcpy_async(host, at(r, id, elem), n * 4, CopyKind::DeviceToHost, kComputeStream);
    dev_.synchronize_stream(kComputeStream);
  }
  static uint64_t seed(int step, size_t tensor) {
    return (static_cast<uint64_t>(step) << 32) ^ (tensor * 0x9E3779B97F4A7C15ull);
  }

  const ModelSpec& spec_;
  Device& dev_;
  Ops& ops_;
  DeviceArena& arena_;
  Region params_, grads_, m_, v_, master_, norms_;
};

}  // namespace

std::unique_ptr<ModelStates> make_resident_states(const ModelSpec& spec, Device& dev, Ops& ops,
                                                  DeviceArena& arena) {
  return std::make_unique<ResidentStates>(spec, dev, ops, arena);
}

}  // namespace mart
