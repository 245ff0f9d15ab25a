#include "planner/cost_model.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "layout/chunk_memory.h"
#include "planner/schedule.h"

namespace mart {
namespace {

constexpr int kNever = 1 << 30;  // as the chunk manager's

const MicroBatchProfile& find_mb(const Profile& p, int b) {
  const MicroBatchProfile* m = p.find(b);
  MART_CHECK(m, "profile has no measurements for micro-batch ", b);
  return *m;
}

std::string pct(double x) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.0f%%", 100 * x);
  return buf;
}

}  // namespace

CostContext::CostContext(const Profile& p, int micro_batch, uint64_t chunk_elems)
    : profile(p),
      mb(find_mb(p, micro_batch)),
      chunks(model_chunks(p.model, chunk_elems)),
      order(executor_acquire_order(p.model.n_layer, p.model.tied_head)),
      body(act_body(p.model, mb)) {
  // next_use as the chunk manager computes it (smallest i in 1..n with c used at pos + i),
  // tabulated: two backward sweeps over the cyclic order.
  const int n = static_cast<int>(order.size()), nc = chunks.n_chunks();
  next_use.assign(static_cast<size_t>(nc) * n, kNever);
  std::vector<char> uses(static_cast<size_t>(nc) * n, 0);
  for (int q = 0; q < n; ++q)
    for (int c : chunks.group_chunks[order[q].first]) uses[static_cast<size_t>(c) * n + q] = 1;
  for (int c = 0; c < nc; ++c) {
    const char* u = &uses[static_cast<size_t>(c) * n];
    int* nu = &next_use[static_cast<size_t>(c) * n];
    int next = -1;  // index in [0, 2n) of the nearest use after q (the order doubled)
    for (int q = 2 * n - 1; q >= 0; --q) {
      if (q < n) nu[q] = next < 0 ? kNever : next - q;
      if (u[q % n]) next = q;
    }
  }
}

CompressBudget compress_budget(const CostContext& ctx, const CompressBudget& c) {
  CompressBudget b = c;
  b.codec_workspace_bytes = ctx.mb.codec_workspace_bytes;
  return b;
}

ActBytes activation_bytes(const CostContext& ctx, const ModeCounts& n, const CompressBudget& c) {
  const CompressBudget cb = compress_budget(ctx, c);
  const uint64_t body = ctx.body.bytes(), rbody = act_arena_round(body);
  bool scratch = false, codec = false;  // the shared scratch body; the codec's region and scratch
  ActBytes a;
  for (const ActModeTraits& t : kActModeTraits) {
    const uint64_t k = t.mode == ActMode::Keep ? ctx.n_layer() - n.placed() : n[t.mode];
    switch (t.mode) {  // as activation_memory() (layout/activation_memory.h), by count
      case ActMode::Keep:
        a.device += k * rbody;
        break;
      case ActMode::Checkpoint:
        scratch = scratch || k > 0;
        break;
      case ActMode::Swap: {
        const uint64_t stages = std::min<uint64_t>(k, kSwapStages);
        a.device += stages * rbody;
        a.host += (k - stages) * body;
        break;
      }
      case ActMode::Compress:
        codec = codec || k > 0;
        if (k > 0) a.device += k * compress_region_bytes(ctx.body, cb);
        break;
      case ActMode::CompressSwap: {
        codec = codec || k > 0;
        const uint64_t stages = std::min<uint64_t>(k, kSwapStages);
        if (k > 0) a.device += stages * compress_region_bytes(ctx.body, cb);
        if (k > stages) a.host += (k - stages) * compress_swap_host_bytes(ctx.body, cb);
        break;
      }
    }
  }
  if (scratch || codec) a.device += rbody;
  if (codec) a.device += codec_scratch_layout(ctx.body, cb).bytes;
  return a;
}

MemoryPrediction predict_memory(const CostContext& ctx, const PlanChoice& plan,
                                const CostOptions& opt) {
  const auto& m = ctx.profile.model;
  const size_t asz = static_cast<size_t>(m.act_bytes);
  MemoryPrediction p;
  p.model_states = chunk_state_device_bytes(ctx.chunks.layout, plan.n_persist, plan.n_buffer, asz,
                                            m.tensor_numel.size());
  p.io = ctx.mb.io_bytes;
  p.block_inputs = ctx.mb.inputs_bytes;
  p.head = ctx.mb.head_bytes;
  p.scratch = ctx.mb.scratch_bytes;
  const ActMemory act = activation_memory(block_modes_from_counts(m.n_layer, plan.blocks), ctx.body,
                                          compress_budget(ctx, opt.compress));
  p.activations = act.device_bytes;
  p.device = p.model_states + p.io + p.block_inputs + p.activations + p.head + p.scratch;
  p.chunk_host = chunk_state_host_bytes(ctx.chunks.layout, plan.n_persist, asz);
  p.swap_host = act.host_bytes;
  p.pinned_host = p.chunk_host + p.swap_host;
  p.host = p.pinned_host + (ctx.profile.hardware.compute_on_host ? p.device : 0);
  return p;
}

TimePrediction predict_time(const CostContext& ctx, const PlanChoice& plan, const CostOptions& opt,
                            EventSim& sim, nlohmann::json* trace, StepWindow* window) {
  const HardwareProfile& hw = ctx.profile.hardware;
  MART_CHECK(opt.steps >= 1, "cost model: at least one step must be simulated");
  sim.clear();
  Schedule s(ctx, plan, opt, sim);
  s.build(opt.steps);
  EventSim::Rates rates;
  rates.h2d_duplex = std::min(1.0, hw.h2d_duplex_bps / hw.h2d_bps);
  rates.d2h_duplex = std::min(1.0, hw.d2h_duplex_bps / hw.d2h_bps);
  rates.compute_on_host = hw.compute_on_host;
  rates.host_overlap_rate = hw.host_overlap_rate;
  sim.run(rates);

  TimePrediction t;
  const int k = opt.steps - 1;
  const double t0 = k > 0 ? sim.end(s.step_end[k - 1]) : 0.0, t1 = sim.end(s.step_end[k]);
  t.iteration_s = t1 - t0;
  if (window) *window = {t0, t1};
  for (int r = 0; r < kResources; ++r) t.busy_s[r] = sim.busy(static_cast<Resource>(r), t0, t1);
  t.uploads = s.uploads / opt.steps;
  t.upload_bytes = s.upload_bytes / opt.steps;
  t.offloads = s.offloads / opt.steps;
  t.offload_bytes = s.offload_bytes / opt.steps;
  t.swap_bytes = s.swap_bytes / opt.steps;
  const double tokens =
      static_cast<double>(plan.micro_batch) * plan.grad_accum * ctx.profile.model.seq_len;
  t.tokens_per_s = tokens / t.iteration_s;
  t.mfu = ctx.profile.model.flops_per_token * t.tokens_per_s / hw.peak_flops;

  // The binding resource: the busiest of the four; when it is not compute, compute idles waiting.
  int bind = 0;
  for (int r = 1; r < 4; ++r)
    if (t.busy_s[r] > t.busy_s[bind]) bind = r;
  t.binding = resource_name(static_cast<Resource>(bind));
  const double it = t.iteration_s, cbusy = t.busy_s[0] / it;
  const double mb = 1.0 / (1 << 20);
  switch (static_cast<Resource>(bind)) {
    case Resource::Compute:
      t.why = "compute is busy " + pct(cbusy) + " of the step; transfers and CPU Adam hide " +
              "under it (H2D " + pct(t.busy_s[1] / it) + ", D2H " + pct(t.busy_s[2] / it) +
              ", CPU Adam " + pct(t.busy_s[3] / it) + ")";
      break;
    case Resource::H2D:
      t.why = "host-to-device copies are busy " + pct(t.busy_s[1] / it) + " of the step (" +
              std::to_string(t.uploads) + " chunk uploads, " +
              std::to_string(static_cast<uint64_t>((t.upload_bytes + t.swap_bytes / 2) * mb)) +
              " MiB per step); compute is busy only " + pct(cbusy) + " and waits for parameters";
      break;
    case Resource::D2H:
      t.why = "device-to-host copies (gradient offload, swap-out) are busy " +
              pct(t.busy_s[2] / it) + " of the step; compute is busy " + pct(cbusy);
      break;
    default:
      t.why = "CPU Adam is busy " + pct(t.busy_s[3] / it) + " of the step: the next step's " +
              "uploads wait for chunk updates; compute is busy " + pct(cbusy);
      break;
  }
  if (trace) {
    if (!trace->is_array()) *trace = nlohmann::json::array();
    sim.append_trace(*trace);
    for (size_t i = 0; i < s.step_end.size(); ++i)
      trace->push_back({{"name", "step " + std::to_string(i + 1) + " end"},
                        {"ph", "i"},
                        {"s", "g"},
                        {"pid", 1},
                        {"tid", static_cast<int>(Resource::Host)},
                        {"ts", sim.end(s.step_end[i]) * 1e6}});
  }
  return t;
}

}  // namespace mart
