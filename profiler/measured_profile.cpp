// Model half of the measured profile (measured_profile.h): one block of the model's shapes.
#include "profiler/measured_profile.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/progress_line.h"
#include "memory/activation_manager.h"
#include "memory/device_arena.h"
#include "memory/host_allocator.h"
#include "profiler/analytic_profile.h"
#include "runtime/executor.h"
#include "runtime/memory_budget.h"
#include "runtime/model/model_states.h"
#include "runtime/model/transformer.h"
#include "runtime/session.h"

namespace mart {
namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Deterministic, cheap, well-scaled values (no denormals, no NaN) for parameters and inputs.
void fill(Device& dev, const Ops& ops, void* dst, uint64_t n, float scale, uint64_t seed) {
  std::vector<float> f(n);
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& x : f) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x = scale * (static_cast<float>(s >> 40) / static_cast<float>(1 << 24) - 0.5f);
  }
  if (ops.act_dtype() == DType::F32) {
    dev.memcpy_async(dst, f.data(), n * 4, CopyKind::HostToDevice, kComputeStream);
    dev.synchronize_stream(kComputeStream);
  } else {
    std::vector<uint16_t> b(n);
    for (uint64_t i = 0; i < n; ++i) b[i] = f32_to_bf16(f[i]);
    dev.memcpy_async(dst, b.data(), n * 2, CopyKind::HostToDevice, kComputeStream);
    dev.synchronize_stream(kComputeStream);
  }
}

// The regions one block's forward and backward and the model's two ends need, for micro-batch B.
struct Buffers {
  Region io, x_in, x_out, body, scratch, dres, lnf, dlnf, stats, cls;
  int32_t *tokens = nullptr, *targets = nullptr;
};

// The job with the one-block model: resident states, every block kept, no capacity limit (the
// profile measures what one block costs, whatever the job's plan).
JobConfig one_block_job(const JobConfig& cfg, const ModelConfig& one_cfg) {
  JobConfig j = cfg;
  j.model = one_cfg;
  j.memory = MemoryConfig{};
  j.activations = ActivationConfig{};
  return j;
}

}  // namespace

int measurement_count(const JobConfig& cfg, const MeasureOptions& opt) {
  const size_t n =
      opt.micro_batches.empty() ? micro_batch_candidates(cfg).size() : opt.micro_batches.size();
  return kHardwareMeasurements + static_cast<int>(n);
}

Profile measure_model(const JobConfig& cfg, Device& dev, Ops& ops, const HardwareProfile& hw,
                      const MeasureOptions& opt) {
  const ModelSpec full = build_model_spec(cfg.model);
  ModelConfig one_cfg = cfg.model;
  one_cfg.n_layer = 1;  // one block of the real shapes (+ the embedding and the head)
  const ModelSpec one = build_model_spec(one_cfg);
  const bool cuda = dev.backend() == Backend::CUDA;
  const size_t asz = dtype_size(ops.act_dtype()), ss = ops.stat_size();
  const int T = cfg.train.seq_len;
  const int reps = std::max(1, opt.reps);
  Profile p;
  p.source = "measured";
  p.model = model_facts(full, cfg.name, T, asz);
  p.act_modes = runtime_act_modes(cuda);
  p.hardware = hw;
  const std::vector<int> bs =
      opt.micro_batches.empty() ? micro_batch_candidates(cfg) : opt.micro_batches;
  // Parameters once (for the largest micro-batch's arena as well).
  const int bmax = *std::max_element(bs.begin(), bs.end());
  const ExecutorLayout Lmax = executor_layout(one, ops, bmax, T);
  const uint64_t N_max = static_cast<uint64_t>(bmax) * T, C = cfg.model.d_model;
  // The one-block model's states (a Session on this device, without an executor) and room for
  // the block buffers below.
  SessionOptions so;
  so.device = &dev;
  so.ops = &ops;
  so.executor = false;
  so.arena_headroom = Lmax.io_bytes + Lmax.scratch_bytes + Lmax.head_bytes +
                      4 * arena_round(N_max * C * asz) + 2 * arena_round(Lmax.body_bytes) +
                      (16 << 20);
  Session session(one_block_job(cfg, one_cfg), std::move(so));
  DeviceArena& arena = session.arena();
  ModelStates* states = &session.states();
  for (size_t i = 0; i < one.params.size(); ++i) {
    const auto& pi = one.params[i];
    const bool norm = pi.shape.size() == 1 && pi.name.find("bias") == std::string::npos;
    std::vector<float> v(pi.numel);
    uint64_t s = i * 7919 + 17;
    for (auto& x : v) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      x = norm ? 1.0f : 0.04f * (static_cast<float>(s >> 40) / static_cast<float>(1 << 24) - 0.5f);
    }
    states->write_param(static_cast<int>(i), v.data());
  }
  HostAllocator host(NumaTopology::load_this_system());
  // In training, the other blocks' weights, gradients and activations pass through the caches
  // between two uses of a block's data; timed back to back, a block would find its data cached and
  // look faster than it is in a step. On the CPU backend every timed run therefore starts with
  // caches flushed by streaming a buffer larger than the last-level cache. (GPU caches are small
  // next to a block's data.)
  // Loads, not memset: a large memset uses non-temporal stores, which bypass the caches.
  std::vector<uint64_t> flush_buf(cuda ? 0 : (96ull << 20) / 8, 1);
  volatile uint64_t flush_sink = 0;
  auto flush = [&] {
    uint64_t acc = 0;
    for (size_t i = 0; i < flush_buf.size(); i += 8) acc += flush_buf[i];  // one load per line
    flush_sink = flush_sink + acc;
  };

  for (int B : bs) {
    MicroBatchProfile mb = micro_batch_layout(full, ops, B, T, cuda);
    const uint64_t N = static_cast<uint64_t>(B) * T;
    const int V = cfg.model.vocab_size;
    Buffers b;
    b.io = arena.alloc(N * 8, "profile_io");
    b.tokens = static_cast<int32_t*>(b.io.ptr);
    b.targets = b.tokens + N;
    std::vector<int32_t> tok(N);
    for (uint64_t i = 0; i < N; ++i) tok[i] = static_cast<int32_t>((i * 2654435761u) % V);
    dev.memcpy_async(b.tokens, tok.data(), N * 4, CopyKind::HostToDevice, kComputeStream);
    dev.memcpy_async(b.targets, tok.data(), N * 4, CopyKind::HostToDevice, kComputeStream);
    b.x_in = arena.alloc(N * C * asz, "profile_x_in");
    b.x_out = arena.alloc(N * C * asz, "profile_x_out");
    b.body = arena.alloc(mb.body_bytes, "profile_body");
    b.scratch = arena.alloc(block_scratch_elems(one, B, T) * asz, "profile_scratch");
    b.dres = arena.alloc(N * C * asz, "profile_dres");
    b.lnf = arena.alloc(N * C * asz, "profile_lnf");
    b.dlnf = arena.alloc(N * C * asz, "profile_dlnf");
    b.stats = arena.alloc(3 * N * ss, "profile_stats");
    b.cls =
        arena.alloc(std::max<size_t>(256, ops.classifier_workspace_bytes(static_cast<int>(N), V)),
                    "profile_classifier");
    fill(dev, ops, b.x_in.ptr, N * C, 2.0f, 1);
    fill(dev, ops, b.dres.ptr, N * C, 1e-3f, 2);
    const BlockActs acts = block_acts(one, B, T, asz, b.x_in.ptr, b.body.ptr, ss);
    const BlockScratch scr = block_scratch(one, B, T, asz, b.scratch.ptr);
    float* mean = static_cast<float*>(b.stats.ptr);
    float* rstd = reinterpret_cast<float*>(static_cast<char*>(b.stats.ptr) + N * ss);
    float* losses = reinterpret_cast<float*>(static_cast<char*>(b.stats.ptr) + 2 * N * ss);

    auto time = [&](auto&& fn) {
      std::vector<double> t;
      for (int i = 0; i <= reps; ++i) {
        flush();
        Event a = dev.record(kComputeStream);
        fn();
        Event e = dev.record(kComputeStream);
        dev.synchronize(e);
        if (i) t.push_back(dev.elapsed_s(a, e));  // the first run warms caches and kernels
      }
      return median(t);
    };
    states->acquire(1, Pass::Forward);
    mb.block_forward_s =
        time([&] { block_forward(ops, one, *states, 0, acts, b.x_out.ptr, scr, B, T); });
    mb.block_recompute_s =
        time([&] { block_forward(ops, one, *states, 0, acts, nullptr, scr, B, T); });
    // Backward overwrites dres (the residual gradient) with d(x_in): restore its scale each time
    // outside the timed region, so every repetition sees the same kind of values.
    {
      std::vector<double> t;
      for (int i = 0; i <= reps; ++i) {
        fill(dev, ops, b.dres.ptr, N * C, 1e-3f, 2);
        flush();
        Event a = dev.record(kComputeStream);
        block_backward(ops, one, *states, 0, acts, b.dres.ptr, scr, B, T);
        Event e = dev.record(kComputeStream);
        dev.synchronize(e);
        if (i) t.push_back(dev.elapsed_s(a, e));
      }
      mb.block_backward_s = median(t);
    }
    states->release(1, Pass::Forward);
    const int wpe = one.wpe;
    states->acquire(0, Pass::Forward);
    mb.embedding_forward_s = time([&] {
      ops.embedding_forward(b.x_out.ptr, b.tokens, states->param(one.wte),
                            wpe >= 0 ? states->param(wpe) : nullptr, B, T, static_cast<int>(C));
    });
    mb.embedding_backward_s = time([&] {
      ops.embedding_backward(states->grad(one.wte), wpe >= 0 ? states->grad(wpe) : nullptr,
                             b.dres.ptr, b.tokens, B, T, static_cast<int>(C));
    });
    states->release(0, Pass::Forward);
    // The head as the executor runs it in training: final norm, classifier forward + backward,
    // zeroing dres, final norm backward.
    const int hg = one.head_group();
    states->acquire(hg, Pass::Backward);
    if (one.lm_head < 0) states->acquire(0, Pass::Backward);
    const int n = static_cast<int>(N);
    mb.head_s = time([&] {
      final_norm_forward(ops, one, *states, b.lnf.ptr, mean, rstd, b.x_out.ptr, n);
      ops.classifier_forward_backward(losses, b.dlnf.ptr, states->grad(one.head_weight()),
                                      b.lnf.ptr, states->param(one.head_weight()), b.targets, n,
                                      static_cast<int>(C), V, 1.0f / n, b.cls.ptr);
      dev.memset_async(b.dres.ptr, 0, N * C * asz, kComputeStream);
      final_norm_backward(ops, one, *states, b.dres.ptr, b.dlnf.ptr, b.x_out.ptr, mean, rstd, n);
    });
    if (one.lm_head < 0) states->release(0, Pass::Backward);
    states->release(hg, Pass::Backward);

    // Each mode's bytes for one block, from the activation manager's own accounting (a dry arena:
    // offsets and statistics without memory).
    const std::vector<std::string> modes_now = p.act_modes;
    for (const std::string& name : modes_now) {
      const ActMode m = parse_act_mode(name);
      const std::vector<ActMode> modes(3, m);  // three blocks: swap's staging shows its sharing
      DeviceArena dry(nullptr, 1ull << 62);
      ActivationOptions ao;
      ao.act_dtype = ops.act_dtype();
      ao.budget.payload_fraction = cfg.activations.payload_fraction;  // the job's budget
      ActBody body{mb.body_act_values, asz, mb.body_stat_bytes};
      try {
        ActivationManager am(dev, dry, &host, modes, body, ao);
        mb.act_mode_bytes[name] = {am.stats().device_bytes / 3, am.stats().host_bytes / 3};
      } catch (const Error&) {
        // A mode this backend cannot run: leave it out of the profile's modes.
        p.act_modes.erase(std::find(p.act_modes.begin(), p.act_modes.end(), name));
      }
    }
    for (Region* r : {&b.cls, &b.stats, &b.dlnf, &b.lnf, &b.dres, &b.scratch, &b.body, &b.x_out,
                      &b.x_in, &b.io})
      arena.free(*r);
    if (opt.verbose)
      std::fprintf(stderr,
                   "%smart profile: micro-batch %d: block forward %.3f ms, backward %.3f ms, "
                   "recompute %.3f ms, head %.3f ms\n",
                   progress_clear(), B, mb.block_forward_s * 1e3, mb.block_backward_s * 1e3,
                   mb.block_recompute_s * 1e3, mb.head_s * 1e3);
    p.micro_batches.push_back(mb);
    if (opt.progress)
      opt.progress(kHardwareMeasurements + static_cast<int>(p.micro_batches.size()),
                   kHardwareMeasurements + static_cast<int>(bs.size()),
                   "micro-batch " + std::to_string(B) + " block");
  }
  std::sort(p.micro_batches.begin(), p.micro_batches.end(),
            [](auto& a, auto& b) { return a.micro_batch < b.micro_batch; });
  return profile_from_json(to_json(p));  // validates
}

Profile measured_profile(const JobConfig& cfg, Device& dev, Ops& ops, const MeasureOptions& opt) {
  return measure_model(cfg, dev, ops, measure_hardware(dev, ops, cfg, opt), opt);
}

}  // namespace mart
