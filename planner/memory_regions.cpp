#include "planner/memory_regions.h"

#include <algorithm>

#include "common/error.h"
#include "common/units.h"
#include "layout/chunk_memory.h"

namespace mart {
namespace {

std::string times(uint64_t n, uint64_t each) {
  return " (" + std::to_string(n) + " x " + format_bytes(each) + ")";
}

struct Adder {
  std::vector<MemoryRegion>& out;
  void operator()(MemoryPool pool, const char* name, std::string label, uint64_t bytes) {
    if (bytes) out.push_back({pool, name, std::move(label), bytes});
  }
};

// Model states: chunk_state_device_bytes / chunk_state_host_bytes, split by what they hold.
void add_chunk_regions(Adder& add, const CostContext& ctx, const PlanChoice& plan) {
  const auto& m = ctx.profile.model;
  const ChunkLayout& L = ctx.chunks.layout;
  const uint64_t e = L.chunk_elems, asz = static_cast<uint64_t>(m.act_bytes);
  const int nc = L.n_chunks(), np = std::clamp(plan.n_persist, 0, nc);
  const uint64_t per_persist = arena_bytes(e * (2 * asz + 8 + (asz == 4 ? 0 : 4)));
  const uint64_t pg = e * 2 * asz;  // [param | grad] in the act dtype
  add(MemoryPool::Device, "resident_chunks",
      "resident chunks: parameters + gradients" + times(np, pg), np * pg);
  add(MemoryPool::Device, "device_optimizer_states",
      std::string("resident chunks: Adam m, v") + (asz == 4 ? "" : " and fp32 master") +
          times(np, per_persist - pg),
      np * (per_persist - pg));
  const int nb = np == nc ? 0 : plan.n_buffer;
  add(MemoryPool::Device, "chunk_buffers",
      "chunk buffers for offloaded chunks" + times(nb, arena_bytes(pg)), nb * arena_bytes(pg));
  add(MemoryPool::Device, "grad_norms", "per-tensor gradient norms",
      arena_bytes(m.tensor_numel.size() * 4));
  const uint64_t off = static_cast<uint64_t>(nc - np);
  add(MemoryPool::Pinned, "host_master_adam",
      "offloaded chunks: fp32 master, Adam m, v" + times(off, e * 12), off * e * 12);
  add(MemoryPool::Pinned, "host_grad_landing",
      "offloaded chunks: gradient landing" + times(off, e * asz), off * e * asz);
  if (asz != 4)
    add(MemoryPool::Pinned, "host_upload_copy",
        "offloaded chunks: act-dtype upload copy" + times(off, e * asz), off * e * asz);
}

void add_activation_regions(Adder& add, const CostContext& ctx, const PlanChoice& plan,
                            const CostOptions& opt) {
  const std::vector<ActMode> modes = block_modes_from_counts(ctx.n_layer(), plan.blocks);
  const ActMemory a = activation_memory(modes, ctx.body, compress_budget(ctx, opt.compress));
  const uint64_t n_keep =
      static_cast<uint64_t>(std::count(modes.begin(), modes.end(), ActMode::Keep));
  add(MemoryPool::Device, "act_keep",
      "kept activations" + times(n_keep, act_arena_round(ctx.body.bytes())), a.keep_bytes);
  add(MemoryPool::Device, "act_recompute", "recompute scratch (one block body)", a.scratch_bytes);
  add(MemoryPool::Device, "act_swap_stage",
      "swap staging slots (" + std::to_string(a.swap_stages) + ")", a.swap_stage_bytes);
  add(MemoryPool::Device, "act_compress", "compressed activations", a.compress_bytes);
  add(MemoryPool::Device, "act_codec", "codec scratch", a.codec_bytes);
  add(MemoryPool::Device, "act_cswap_stage",
      "compress_swap staging slots (" + std::to_string(a.cswap_stages) + ")", a.cswap_stage_bytes);
  uint64_t swap = 0, cswap = 0;
  for (size_t b = 0; b < modes.size(); ++b)
    (modes[b] == ActMode::CompressSwap ? cswap : swap) += a.block_host_bytes[b];
  add(MemoryPool::Pinned, "host_swap", "swapped activations", swap);
  add(MemoryPool::Pinned, "host_cswap", "compress_swap encodings (at the budget)", cswap);
}

}  // namespace

uint64_t PlanMemory::sum(MemoryPool pool) const {
  uint64_t s = 0;
  for (const MemoryRegion& r : regions)
    if (r.pool == pool) s += r.bytes;
  return s;
}

PlanMemory plan_memory_regions(const Profile& p, const PlanChoice& plan, const CostOptions& opt) {
  CostContext ctx(p, plan.micro_batch, plan.chunk_elems);
  PlanMemory pm;
  pm.predicted = predict_memory(ctx, plan, opt);
  const MemoryPrediction& m = pm.predicted;
  Adder add{pm.regions};
  add_chunk_regions(add, ctx, plan);
  add(MemoryPool::Device, "io", "tokens and targets", m.io);
  add(MemoryPool::Device, "block_inputs", "block inputs (one per block)", m.block_inputs);
  add_activation_regions(add, ctx, plan, opt);
  add(MemoryPool::Device, "head", "head (final-norm input and output, statistics, losses)", m.head);
  add(MemoryPool::Device, "scratch",
      "executor scratch (block scratch, residual gradients, classifier workspace)", m.scratch);
  add(MemoryPool::Pageable, "host_arena", "the device arena (host memory on the CPU backend)",
      m.host - m.pinned_host);
  MART_CHECK(pm.sum(MemoryPool::Device) == m.device &&
                 pm.sum(MemoryPool::Pinned) == m.pinned_host &&
                 pm.sum(MemoryPool::Pageable) == m.host - m.pinned_host,
             "plan memory regions: the regions add up to device ", pm.sum(MemoryPool::Device),
             " / pinned ", pm.sum(MemoryPool::Pinned), " bytes, the cost model predicts ", m.device,
             " / ", m.pinned_host,
             " (a planner bug: planner/memory_regions.cpp must "
             "split exactly what predict_memory sums)");
  return pm;
}

}  // namespace mart
