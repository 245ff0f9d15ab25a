#include "planner/search.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>

#include "common/error.h"
#include "common/units.h"
#include "layout/chunk_memory.h"

namespace mart {
namespace {

// A survivor of the memory pass: enough to rebuild the plan, plus its bound.
struct PlanPoint {
  double lower_bound;  // no simulation can be faster (each resource's own work, phase by phase)
  double estimate;     // a phase-by-phase estimate of the simulation (ProTrain's, extended)
  uint16_t mb_index, size_index;  // into the micro-batch and chunk-size candidates
  int32_t n_persist, n_buffer;
  int32_t n_offloaded;  // chunks off the device: n_chunks - n_persist
  ModeCounts blocks;    // blocks per activation mode
  uint64_t device;
  uint64_t pinned;  // host bytes of offloaded chunks, swapped bodies and compress_swap encodings
  bool lossy() const {
    return blocks.count_if([](const ActModeTraits& t) { return t.lossy; }) > 0;
  }
};

// The tie rule's keys, simplest first: between plans the cost model cannot tell apart, the one
// with less machinery is the safer (and its simulation usually sits on its bound).
struct SimplicityKey {
  const char* fewer;  // "fewer offloaded chunks": what the simpler plan has
  int64_t (*value)(const PlanPoint&);
  bool bytes = false;  // the value is a byte count (printed with units)
};
constexpr SimplicityKey kSimplicity[] = {
    {"fewer offloaded chunks", [](const PlanPoint& q) -> int64_t { return q.n_offloaded; }},
    {"fewer swapped or lossy blocks",
     [](const PlanPoint& q) -> int64_t {
       return q.blocks.count_if([](const ActModeTraits& t) { return t.copies_to_host || t.lossy; });
     }},
    {"less memory (device + pinned host)",
     [](const PlanPoint& q) -> int64_t { return static_cast<int64_t>(q.device + q.pinned); }, true},
    {"fewer recomputed blocks",
     [](const PlanPoint& q) -> int64_t {
       return q.blocks.count_if([](const ActModeTraits& t) { return t.recomputes; });
     }},
    {"fewer micro-batches (a larger micro-batch)",
     [](const PlanPoint& q) -> int64_t { return -static_cast<int64_t>(q.mb_index); }},
    {"fewer chunk buffers", [](const PlanPoint& q) -> int64_t { return q.n_buffer; }},
    {"a smaller chunk size", [](const PlanPoint& q) -> int64_t { return q.size_index; }},
};

// The first key on which a and b differ, or nullptr when they are equally simple. Points that
// tie on every key differ in their block counts only (e.g. swap vs compress_swap of equal sum):
// those are ordered by the counts, so the order is total and the answer never depends on the
// order of evaluation.
const SimplicityKey* first_difference(const PlanPoint& a, const PlanPoint& b) {
  for (const SimplicityKey& k : kSimplicity)
    if (k.value(a) != k.value(b)) return &k;
  return nullptr;
}
bool simpler(const PlanPoint& a, const PlanPoint& b) {
  if (const SimplicityKey* k = first_difference(a, b)) return k->value(a) < k->value(b);
  return a.blocks.n < b.blocks.n;
}

// What the memory pass needs of one chunk size, for every n_persist at once.
struct ChunkSize {
  uint64_t elems = 0;
  ModelChunks chunks;
  std::vector<int> min_buf;           // [np], np = 0..n_chunks
  std::vector<double> off_bytes;      // [np]: act bytes of chunks >= np (uploads, offloads)
  std::vector<double> off_numel;      // [np]: their parameter elements (CPU Adam)
  std::vector<double> persist_numel;  // [np]: parameter elements of chunks < np
};

ChunkSize chunk_size_info(const ModelProfile& m, uint64_t elems) {
  ChunkSize cs;
  cs.elems = elems;
  cs.chunks = model_chunks(m, elems);
  const int nc = cs.chunks.n_chunks();
  const double asz = m.act_bytes;
  cs.off_bytes.assign(nc + 1, 0);
  cs.off_numel.assign(nc + 1, 0);
  cs.persist_numel.assign(nc + 1, 0);
  for (int c = nc - 1; c >= 0; --c) {
    cs.off_bytes[c] = cs.off_bytes[c + 1] + cs.chunks.layout.chunk_used[c] * asz;
    cs.off_numel[c] = cs.off_numel[c + 1] + cs.chunks.chunk_numel[c];
  }
  for (int c = 0; c < nc; ++c)
    cs.persist_numel[c + 1] = cs.persist_numel[c] + cs.chunks.chunk_numel[c];
  // min_buffers for every n_persist: the chunks resident together at each acquisition, sorted;
  // the offloaded ones are those >= np.
  const auto sets = resident_chunk_sets(executor_acquire_order(m.n_layer, m.tied_head),
                                        cs.chunks.group_chunks, m.tied_head ? m.head_group() : -1);
  cs.min_buf.assign(nc + 1, 0);
  for (int np = 0; np <= nc; ++np) cs.min_buf[np] = min_buffers_of_sets(sets, np);
  return cs;
}

// Per micro-batch constants of the memory pass and the bound.
struct MicroBatch {
  const MicroBatchProfile* mb;
  int grad_accum;
  uint64_t fixed;  // io + block inputs + head + scratch
  uint64_t rbody, body;
  uint64_t comp_region = 0, codec = 0;  // compress, when allowed
  uint64_t cswap_host = 0;              // one compress_swap host copy (at the budget), when allowed
  double step_compute;                  // per micro-batch compute with every block kept
  double codec_s;                       // encode (= decode) time of one block
};

}  // namespace

std::vector<std::string> plan_block_modes(const Profile& p, const PlanChoice& plan) {
  std::vector<std::string> out;
  for (ActMode m : block_modes_from_counts(p.model.n_layer, plan.blocks))
    out.push_back(act_mode_name(m));
  return out;
}

PlanCandidate evaluate_plan(const Profile& p, const PlanChoice& plan, const CostOptions& opt,
                            nlohmann::json* trace) {
  CostContext ctx(p, plan.micro_batch, plan.chunk_elems);
  EventSim sim;
  PlanCandidate c;
  c.plan = plan;
  c.memory = predict_memory(ctx, plan, opt);
  c.time = predict_time(ctx, plan, opt, sim, trace);
  return c;
}

SearchResult search_plan(const Profile& p, const SearchOptions& opt) {
  const auto& hw = p.hardware;
  const auto& m = p.model;
  const int L = m.n_layer;
  const uint64_t asz = static_cast<uint64_t>(m.act_bytes);
  SearchResult R;
  // The trainer floors the capacity to the arena alignment; so does the plan.
  R.device_capacity =
      (opt.device_capacity ? opt.device_capacity : hw.device_memory) / kArenaAlign * kArenaAlign;
  R.host_memory = opt.host_memory ? opt.host_memory : hw.host_memory;
  if (opt.pinned_limit)
    R.pinned_limit = opt.pinned_limit;
  else if (opt.host_memory && hw.pinned_limit && hw.host_memory)  // keep the preset's fraction
    R.pinned_limit = static_cast<uint64_t>(static_cast<double>(opt.host_memory) * hw.pinned_limit /
                                           hw.host_memory);
  else
    R.pinned_limit = opt.host_memory ? opt.host_memory : hw.pinned_capacity();
  const uint64_t cap = R.device_capacity;
  const bool swap_ok = opt.allow_swap && p.supports("swap");
  const bool comp_ok = opt.allow_compress && p.supports("compress") && hw.codec_bps > 0;
  const bool cswap_ok = swap_ok && comp_ok && p.supports("compress_swap");
  const CostOptions& co = opt.cost;

  // Micro-batch candidates.
  std::vector<MicroBatch> mbs;
  const int global = opt.global_batch > 0 ? opt.global_batch : p.micro_batches.front().micro_batch;
  for (auto& mb : p.micro_batches) {
    if (opt.fixed_micro_batch > 0 ? mb.micro_batch != opt.fixed_micro_batch
                                  : global % mb.micro_batch != 0)
      continue;
    MicroBatch x;
    x.mb = &mb;
    x.grad_accum = std::max(1, global / mb.micro_batch);
    x.fixed = mb.io_bytes + mb.inputs_bytes + mb.head_bytes + mb.scratch_bytes;
    ActBody body = act_body(m, mb);
    x.body = body.bytes();
    x.rbody = act_arena_round(x.body);
    CompressBudget cb = co.compress;
    cb.codec_workspace_bytes = mb.codec_workspace_bytes;
    if (comp_ok) {
      x.comp_region = compress_region_bytes(body, cb);
      x.codec = codec_scratch_layout(body, cb).bytes;
    }
    if (cswap_ok) x.cswap_host = compress_swap_host_bytes(body, cb);
    x.step_compute = L * (mb.block_forward_s + mb.block_backward_s) + mb.embedding_forward_s +
                     mb.embedding_backward_s + mb.head_s;
    x.codec_s = hw.codec_bps > 0 ? body.act_values * body.act_size / hw.codec_bps : 0;
    mbs.push_back(x);
  }
  MART_CHECK(!mbs.empty(),
             "plan: the profile has no micro-batch size that divides the global "
             "batch of ",
             global, " sequences (profiled: ", p.micro_batches.front().micro_batch, "..",
             p.micro_batches.back().micro_batch, ")");

  std::vector<ChunkSize> sizes;
  for (uint64_t e : chunk_size_grid(m)) sizes.push_back(chunk_size_info(m, e));

  // ---- memory pass ----
  std::vector<PlanPoint> pts;
  uint64_t min_device = UINT64_MAX, min_pinned = UINT64_MAX, min_host = UINT64_MAX;
  int min_device_b = 0;
  uint64_t min_host_over = UINT64_MAX;  // the least host overflow of a device-fitting plan
  bool device_fit = false;
  const double h2d = hw.h2d_bps, d2h = hw.d2h_bps, cpu_adam = hw.cpu_adam_elems_per_s;
  const double share = hw.compute_on_host ? std::max(1.0, 2 * hw.host_overlap_rate) : 0;
  const double pcie = std::max({h2d, d2h, hw.h2d_duplex_bps + hw.d2h_duplex_bps});
  const double h2d_dup = std::min(h2d, hw.h2d_duplex_bps),
               d2h_dup = std::min(d2h, hw.d2h_duplex_bps);
  struct Bounds {
    double lb, est;
  };
  // off: bytes of the offloaded chunks; retain: what the buffers can carry from one pass to the
  // next; swap: bytes swapped out (and back in) per micro-batch; comp: all compute of the step;
  // c: checkpointed blocks; z: blocks encoded (and decoded) per pass (compress + compress_swap).
  auto bounds = [&](const MicroBatch& B, const MicroBatchProfile& mb, double off, double retain,
                    double adam_t, double swap, double comp, int c, int z, bool offloaded,
                    int spare) {
    const int G = B.grad_accum;
    const double L_ = L;
    const double cf = L_ * mb.block_forward_s + mb.embedding_forward_s + z * B.codec_s;
    const double cb = L_ * mb.block_backward_s + mb.embedding_backward_s + mb.head_s +
                      c * mb.block_recompute_s + z * B.codec_s;
    const double fixed = comp - G * (cf + cb);  // device Adam, memsets, norms
    // Per pass: uploads (first forward has nothing carried over; later micro-batches also bring
    // their gradients back), offloads in backward, swap-out in forward and swap-in in backward.
    const double up_f0 = off, up_f = off - retain, up_b = off - retain;
    const double up_total = up_f0 + (2.0 * G - 1) * (off - retain) + (G - 1) * off + G * swap;
    const double down_total = G * (off + swap);
    Bounds r;
    r.lb =
        std::max({comp, up_total / h2d, down_total / d2h, (up_total + down_total) / pcie, adam_t});
    if (share > 0) r.lb = std::max(r.lb, (comp + adam_t) / share);
    if (offloaded && co.grad_clip) {
      // With clipping, CPU Adam starts after the whole backward (the global norm), and the next
      // step's last forward upload waits for it: Adam, then at least every backward pass's
      // compute and uploads follow in series.
      const double later_up = up_b + (G - 1) * (up_f + up_b + off) + G * swap;
      r.lb = std::max(r.lb, adam_t + std::max(G * cb, later_up / h2d));
    }
    // Estimate: forward and backward phases each as slow as their busiest resource.
    const double hb = off > 0 ? h2d_dup : h2d, db = up_b > 0 || swap > 0 ? d2h_dup : d2h;
    const double f0 = std::max({cf, up_f0 / h2d, swap / d2h});
    const double fi = std::max({cf, up_f / h2d, swap / d2h});
    // With fewer than two spare buffers, a buffer's upload waits for its gradient offload, so
    // the two directions take turns instead of overlapping.
    const double serial = spare < 2 ? (up_b + off) / h2d : 0;
    const double b0 = std::max({cb, (up_b + swap) / hb, off / db, serial});
    const double bi = std::max({cb, (up_b + swap + off) / hb, off / db, serial});
    double est = (G - 1) * (fi + bi) + fixed;
    if (!offloaded)
      est += f0 + b0;
    else if (co.grad_clip)
      est += std::max(f0, adam_t) + b0;
    else
      est += f0 + std::max(b0, adam_t);
    if (share > 0) est = std::max(est, (comp + adam_t) / share);
    r.est = std::max(est, r.lb);
    return r;
  };
  for (size_t bi = 0; bi < mbs.size(); ++bi) {
    const MicroBatch& B = mbs[bi];
    const MicroBatchProfile& mb = *B.mb;
    const int G = B.grad_accum;
    for (size_t ci = 0; ci < sizes.size(); ++ci) {
      const ChunkSize& cs = sizes[ci];
      const ChunkLayout& lay = cs.chunks.layout;
      const int nc = cs.chunks.n_chunks();
      const uint64_t nt = m.tensor_numel.size();
      {  // the least device memory any plan with this micro-batch and chunk size needs
        const int nb0 = std::max(1, cs.min_buf[0]);
        const uint64_t need =
            chunk_state_device_bytes(lay, 0, nb0, asz, nt) + B.fixed + (L > 0 ? B.rbody : 0);
        if (need < min_device) {
          min_device = need, min_device_b = mb.micro_batch;
          R.closest = PlanChoice{mb.micro_batch, G, cs.elems, 0, nb0, {}};
          R.closest.blocks[ActMode::Checkpoint] = L;
        }
      }
      for (int np = 0; np <= nc; ++np) {
        const uint64_t chunk_host = chunk_state_host_bytes(lay, np, asz);
        const int nb_lo = np == nc ? 0 : std::max(1, cs.min_buf[np]);
        const int nb_hi = np == nc ? 0 : nb_lo + opt.extra_buffers;
        for (int nb = nb_lo; nb <= nb_hi; ++nb) {
          const uint64_t base = chunk_state_device_bytes(lay, np, nb, asz, nt) + B.fixed;
          if (base > cap) break;
          const double persist = cs.persist_numel[np];
          const double fixed_compute =
              G * B.step_compute + persist * (1.0 / hw.device_adam_elems_per_s) +
              (2.0 * persist * asz + cs.off_numel[np] * asz) / hw.mem_bw_bps;
          const double off = cs.off_bytes[np];
          const double retain = std::min(off, static_cast<double>(nb) * cs.elems * asz);
          const double adam_t = cs.off_numel[np] / cpu_adam;
          // T blocks swapped, all as swap (w = 0) or, when allowed, all as compress_swap (s = 0).
          for (int T = 0; T <= (swap_ok ? L : 0); ++T)
            for (int cs_variant = 0; cs_variant <= (cswap_ok && T > 0 ? 1 : 0); ++cs_variant) {
              const int s = cs_variant ? 0 : T, w = cs_variant ? T : 0;
              const int stages = std::min(s, kSwapStages), cstages = std::min(w, kSwapStages);
              const uint64_t swap_host = static_cast<uint64_t>(s - stages) * B.body +
                                         static_cast<uint64_t>(w - cstages) * B.cswap_host;
              // Dominance over z: a point needing at least as many checkpointed blocks as a
              // surviving point with fewer compressed blocks is slower (the same transfers, the
              // same or more recompute, more encode/decode) and only saves memory that has no
              // use here: it is skipped. So z grows only while it buys fewer recomputes.
              int best_c = std::numeric_limits<int>::max();
              for (int z = 0; z <= (comp_ok ? L - T : 0); ++z) {
                ++R.points;
                // Fewest checkpointed blocks that fit: keep as many of the R remaining as memory
                // allows; checkpointing any block (or compressing) costs one shared scratch body.
                const int rest = L - T - z;
                const bool codec = z > 0 || w > 0;
                const uint64_t fixed_act =
                    static_cast<uint64_t>(stages) * B.rbody +
                    (codec ? static_cast<uint64_t>(z + cstages) * B.comp_region + B.codec : 0);
                if (base + fixed_act > cap) continue;
                const uint64_t avail = cap - base - fixed_act;
                int c;
                if (!codec && static_cast<uint64_t>(rest) * B.rbody <= avail) {
                  c = 0;
                } else {
                  if (avail < B.rbody) continue;  // not even the shared scratch body
                  const uint64_t keep_max = rest > 0 ? (avail - B.rbody) / B.rbody : 0;
                  c = rest - static_cast<int>(std::min<uint64_t>(keep_max, rest));
                }
                const uint64_t act = static_cast<uint64_t>(rest - c) * B.rbody +
                                     (c > 0 || codec ? B.rbody : 0) + fixed_act;
                const uint64_t device = base + act;
                if (device > cap) continue;  // (rest == 0 corner cases)
                device_fit = true;
                const uint64_t pinned = chunk_host + swap_host;
                const uint64_t host = pinned + (hw.compute_on_host ? device : 0);
                min_pinned = std::min(min_pinned, pinned);
                min_host = std::min(min_host, host);
                if (pinned > R.pinned_limit || host > R.host_memory) {
                  const uint64_t over =
                      std::max(pinned > R.pinned_limit ? pinned - R.pinned_limit : 0,
                               host > R.host_memory ? host - R.host_memory : 0);
                  if (over < min_host_over) {
                    min_host_over = over;
                    R.closest = PlanChoice{mb.micro_batch, G, cs.elems, np, nb, {}};
                    R.closest.blocks[ActMode::Swap] = s;
                    R.closest.blocks[ActMode::Checkpoint] = c;
                    R.closest.blocks[ActMode::Compress] = z;
                    R.closest.blocks[ActMode::CompressSwap] = w;
                  }
                  continue;
                }
                if (c >= best_c) continue;  // dominated (above)
                best_c = c;
                // Encode + decode of every compressed and compress_swap block, per micro-batch.
                const double comp =
                    fixed_compute + G * (c * mb.block_recompute_s + 2.0 * (z + w) * B.codec_s);
                // Swapped bytes per micro-batch, each way: compress_swap at its budget.
                const double swap_b = static_cast<double>(swap_host);
                Bounds bd = bounds(B, mb, off, retain, adam_t, swap_b, comp, c, z + w, np < nc,
                                   nb - cs.min_buf[np]);
                PlanPoint q{};
                q.lower_bound = bd.lb;
                q.estimate = bd.est;
                q.mb_index = static_cast<uint16_t>(bi);
                q.size_index = static_cast<uint16_t>(ci);
                q.n_persist = np;
                q.n_buffer = nb;
                q.n_offloaded = nc - np;
                q.blocks[ActMode::Swap] = s;
                q.blocks[ActMode::Checkpoint] = c;
                q.blocks[ActMode::Compress] = z;
                q.blocks[ActMode::CompressSwap] = w;
                q.device = device;
                q.pinned = pinned;
                pts.push_back(q);
              }
            }
        }
      }
    }
  }
  R.feasible = pts.size();

  if (pts.empty()) {
    R.fits = false;
    R.has_closest = min_device != UINT64_MAX;
    if (!device_fit) {
      R.reason = "device";
      R.message = "nothing fits in " + format_bytes(cap) +
                  " of device memory: the smallest plan "
                  "(micro-batch " +
                  std::to_string(min_device_b) +
                  ", no chunk persistent, every "
                  "block checkpointed) needs " +
                  format_bytes(min_device) + ".";
      R.suggestions.push_back("a device with at least " + format_bytes(min_device) +
                              " (--gpu-mem / memory.device_capacity)");
      if (min_device_b > 1 || p.micro_batches.front().micro_batch > 1)
        R.suggestions.push_back(
            "a smaller micro-batch: --set train.micro_batch=1 with "
            "train.grad_accum=" +
            std::to_string(global) + " keeps the global batch");
      R.suggestions.push_back(
          "a shorter train.seq_len (block inputs and activations scale "
          "with it)");
    } else {
      R.reason = "host";
      R.message =
          "the device can hold a plan, but host memory cannot: the offloaded model "
          "states need at least " +
          format_bytes(min_pinned) +
          " of pinned host memory "
          "(limit " +
          format_bytes(R.pinned_limit) + ") and " + format_bytes(min_host) +
          " of host memory in all (have " + format_bytes(R.host_memory) + ").";
      R.suggestions.push_back("more host memory: at least " +
                              format_bytes(std::max(min_host, min_pinned)) + " (--host-mem)");
      R.suggestions.push_back("more device memory, so that more chunks stay persistent there");
      if (!comp_ok && p.supports("compress"))
        R.suggestions.push_back(
            "activation compression (lossy; activations.n_compress or "
            "--allow-compress) frees device memory for persistent chunks "
            "instead of swapping activations to the host");
    }
    return R;
  }

  // ---- simulations: the most promising first, then branch and bound ----
  // Equal estimates or bounds are ordered by the tie rule (simpler first): its simulation
  // usually sits on its bound, which prunes the rest sooner.
  std::vector<uint32_t> by_est(pts.size()), by_lb(pts.size());
  for (uint32_t i = 0; i < pts.size(); ++i) by_est[i] = by_lb[i] = i;
  std::sort(by_est.begin(), by_est.end(), [&](uint32_t a, uint32_t b) {
    return pts[a].estimate != pts[b].estimate ? pts[a].estimate < pts[b].estimate
                                              : simpler(pts[a], pts[b]);
  });
  std::sort(by_lb.begin(), by_lb.end(), [&](uint32_t a, uint32_t b) {
    return pts[a].lower_bound != pts[b].lower_bound ? pts[a].lower_bound < pts[b].lower_bound
                                                    : simpler(pts[a], pts[b]);
  });
  std::map<std::pair<int, int>, std::unique_ptr<CostContext>> ctxs;
  EventSim sim;
  const size_t keep_n = static_cast<size_t>(std::max(0, opt.alternatives)) + 1;
  std::vector<std::pair<double, size_t>> top;  // (time, point index), ascending
  std::vector<std::pair<double, size_t>> all;  // every simulation
  std::vector<char> done(pts.size(), 0);
  std::vector<double> time_of(pts.size(), 0);
  auto plan_of = [&](const PlanPoint& q) {
    PlanChoice pc;
    pc.micro_batch = mbs[q.mb_index].mb->micro_batch;
    pc.grad_accum = mbs[q.mb_index].grad_accum;
    pc.chunk_elems = sizes[q.size_index].elems;
    pc.n_persist = q.n_persist;
    pc.n_buffer = q.n_buffer;
    pc.blocks = q.blocks;
    return pc;
  };
  // The work bound: simulations and simulated events are counted, never timed.
  auto work_left = [&] {
    return R.simulated < static_cast<uint64_t>(opt.max_simulations) && R.sim_ops <= opt.max_sim_ops;
  };
  // The most simulations this search may run (the progress callback's total): the estimate_first
  // ones are not bounded by max_simulations.
  const uint64_t sim_most = std::min<uint64_t>(
      pts.size(), static_cast<uint64_t>(std::max({0, opt.max_simulations, opt.estimate_first})));
  auto simulate = [&](size_t i) {
    const PlanPoint& q = pts[i];
    auto& ctx = ctxs[{q.mb_index, q.size_index}];
    if (!ctx)
      ctx = std::make_unique<CostContext>(p, mbs[q.mb_index].mb->micro_batch,
                                          sizes[q.size_index].elems);
    const double t = predict_time(*ctx, plan_of(q), co, sim).iteration_s;
    R.sim_ops += static_cast<uint64_t>(sim.size());
    ++R.simulated;
    done[i] = 1;
    time_of[i] = t;
    all.push_back({t, i});
    top.insert(std::upper_bound(top.begin(), top.end(), std::make_pair(t, i)),
               std::make_pair(t, i));
    if (top.size() > keep_n) top.pop_back();
    if (opt.progress) opt.progress(R.simulated, sim_most);
  };
  for (size_t k = 0; k < by_est.size() && k < static_cast<size_t>(opt.estimate_first); ++k)
    simulate(by_est[k]);
  // Branch and bound in two passes: the exact plans first (no compress or compress_swap block),
  // then all. Lossy points can outnumber exact ones 30:1 and their bounds are looser, so one
  // pass could spend the simulation budget on them before reaching the best exact plan; this
  // order makes allowing compression never return a plan slower than not allowing it would
  // (when the exact pass closes its bound within the budget, as it does alone).
  R.exhaustive = true;
  for (int pass = 0; pass < 2 && R.exhaustive; ++pass) {
    for (uint32_t i : by_lb) {
      if (done[i] || (pass == 0 && pts[i].lossy())) continue;
      const double bound =
          top.size() < keep_n ? std::numeric_limits<double>::infinity() : top.back().first;
      if (pts[i].lower_bound * (1 + opt.tolerance) >= bound) break;
      if (!work_left()) {
        R.exhaustive = false;  // the work bound ran out before the bound closed
        break;
      }
      simulate(i);
    }
  }
  // The tie rule: plans within `prefer_simpler` of the fastest tie, and the simplest of them
  // wins. Branch and bound may have pruned a simpler plan inside that margin (its bound was
  // above the runner-ups' times): simulate, in bound order, every point simpler than the current
  // choice whose bound is inside the margin.
  const auto in_margin = [&](double t) {
    return t <= top.front().first * (1 + opt.prefer_simpler);
  };
  auto simplest_in_margin = [&] {
    size_t c = top.front().second;
    for (auto& [t, i] : all)
      if (in_margin(t) && simpler(pts[i], pts[c])) c = i;
    return c;
  };
  size_t chosen = simplest_in_margin();
  for (uint32_t i : by_lb) {
    if (!in_margin(pts[i].lower_bound)) break;
    if (done[i] || !simpler(pts[i], pts[chosen])) continue;
    if (!work_left()) {
      R.exhaustive = false;
      break;
    }
    simulate(i);
    chosen = simplest_in_margin();
  }
  if (opt.progress) opt.progress(R.simulated, R.simulated);
  auto candidate = [&](size_t i) {
    const PlanPoint& q = pts[i];
    const PlanChoice pc = plan_of(q);
    PlanCandidate c;
    c.plan = pc;
    const CostContext& ctx = *ctxs.at({q.mb_index, q.size_index});
    c.memory = predict_memory(ctx, pc, co);
    MART_CHECK(c.memory.device == q.device, "planner: counted activation memory (", q.device,
               ") differs from activation_memory() (", c.memory.device, "); a planner bug");
    MART_CHECK(c.memory.pinned_host == q.pinned, "planner: counted pinned host memory (", q.pinned,
               ") differs from the formulas (", c.memory.pinned_host, "); a planner bug");
    c.time = predict_time(ctx, pc, co, sim);
    return c;
  };
  // Why the chosen plan beats a faster one: "has fewer offloaded chunks (0 vs 1)".
  auto simpler_because = [&](size_t faster) {
    const SimplicityKey* k = first_difference(pts[chosen], pts[faster]);
    if (!k) return std::string("is as simple, and first in the order of its block counts");
    auto text = [&](size_t i) {
      const int64_t v = k->value(pts[i]);
      return k->bytes ? format_bytes(static_cast<uint64_t>(v)) : std::to_string(v);
    };
    return std::string("has ") + k->fewer + " (" + text(chosen) + " vs " + text(faster) + ")";
  };
  auto margin = [&](size_t faster) {  // "0.65% faster, within the 2% tie margin"
    char buf[96];
    std::snprintf(buf, sizeof buf, "%.2f%% faster, within the %.2g%% tie margin",
                  100 * (time_of[chosen] / time_of[faster] - 1), 100 * opt.prefer_simpler);
    return std::string(buf);
  };
  R.fits = true;
  R.best = candidate(chosen);
  const size_t fastest = top.front().second;
  R.best.why = chosen == fastest ? "the fastest plan found"
                                 : "ties the fastest plan found (" + margin(fastest) + ") and " +
                                       simpler_because(fastest);
  std::sort(all.begin(), all.end());
  for (auto& [t, i] : all) {
    if (R.alternatives.size() >= static_cast<size_t>(opt.alternatives)) break;
    if (i == chosen) continue;
    R.alternatives.push_back(candidate(i));
    if (t < time_of[chosen])  // listed although faster: say why it lost
      R.alternatives.back().why = margin(i) + "; the chosen plan " + simpler_because(i);
  }
  return R;
}

}  // namespace mart
