#include "planner/schedule.h"

#include <algorithm>

#include "common/error.h"

namespace mart {
namespace {
constexpr int kNever = 1 << 30;  // as the chunk manager's
}  // namespace

Schedule::Schedule(const CostContext& ctx, const PlanChoice& plan, const CostOptions& opt,
                   EventSim& sim)
    : ctx_(ctx),
      plan_(plan),
      opt_(opt),
      sim_(sim),
      hw_(ctx.profile.hardware),
      mb_(ctx.mb),
      inline_(ctx.profile.hardware.compute_on_host),
      asz_(ctx.profile.model.act_bytes),
      L_(ctx.n_layer()),
      nc_(ctx.chunks.n_chunks()) {
  np_ = std::clamp(plan.n_persist, 0, nc_);
  nb_ = np_ == nc_ ? 0 : plan.n_buffer;
  MART_CHECK(np_ == nc_ || nb_ >= std::max(1, min_buffers(ctx.profile.model, ctx.chunks, np_)),
             "cost model: n_buffer ", nb_, " is below the minimum for n_persist ", np_);
  std::fill(std::begin(last_), std::end(last_), -1);
  chunks_.resize(nc_);
  bufs_.resize(nb_);
  for (int c = 0; c < nc_; ++c)
    for (auto& [g, bwd] : ctx.order) {
      if (!bwd) continue;
      auto& gc = ctx.chunks.group_chunks[g];
      chunks_[c].bwd_uses_per_mb += std::find(gc.begin(), gc.end(), c) != gc.end();
    }
  for (auto& ch : chunks_) ch.bwd_uses_left = ch.bwd_uses_per_mb;
  modes_ = block_modes_from_counts(L_, plan.blocks);
  swap_index_.assign(L_, -1);
  cswap_index_.assign(L_, -1);
  for (int b = 0; b < L_; ++b)
    if (modes_[b] == ActMode::Swap) {
      swap_index_[b] = static_cast<int>(swap_blocks_.size());
      swap_blocks_.push_back(b);
    } else if (modes_[b] == ActMode::CompressSwap) {
      cswap_index_[b] = static_cast<int>(cswap_blocks_.size());
      cswap_blocks_.push_back(b);
    }
  const int n_swap = static_cast<int>(swap_blocks_.size());
  const int n_cswap = static_cast<int>(cswap_blocks_.size());
  stages_ = std::min(n_swap, kSwapStages);
  cstages_ = std::min(n_cswap, kSwapStages);
  // The last `stages` blocks of each mode stay in their staging slots: never copied.
  host_body_.assign(L_, 0);
  for (int b = 0; b < L_; ++b)
    host_body_[b] = (swap_index_[b] >= 0 && swap_index_[b] < n_swap - stages_) ||
                    (cswap_index_[b] >= 0 && cswap_index_[b] < n_cswap - cstages_);
  host_ready_.assign(L_, -1);
  slot_copy_.assign(stages_, -1);
  cslot_copy_.assign(cstages_, -1);
  cswap_bytes_ = n_cswap > 0 ? static_cast<double>(compress_swap_host_bytes(
                                   ctx.body, compress_budget(ctx, opt.compress)))
                             : 0;
}

// ---- issuing -----------------------------------------------------------------------------------

Schedule::OpId Schedule::dev_op(Resource r, double work, std::initializer_list<OpId> deps,
                                const char* name, int tag) {
  OpId d[8];
  int n = 0;
  for (OpId x : deps) d[n++] = x;
  d[n++] = host_;  // not before the host issued it
  const OpId id = sim_.add(r, work, d, n, name, tag);
  last_[static_cast<int>(r)] = id;
  if (inline_ && r == Resource::Compute) host_ = id;
  return id;
}

void Schedule::stream_wait(Resource r, OpId ev) {
  if (ev >= 0) dev_op(r, 0, {ev}, "wait");
}

void Schedule::host_sync(std::initializer_list<OpId> deps) {
  OpId d[8];
  int n = 0;
  for (OpId x : deps) d[n++] = x;
  d[n++] = host_;
  const Resource r = inline_ ? Resource::Compute : Resource::Host;
  host_ = sim_.add(r, 0, d, n, "sync");
  if (inline_) last_[static_cast<int>(Resource::Compute)] = host_;
}

void Schedule::build(int steps) {
  for (int s = 0; s < steps; ++s) train_step();
}

// ---- executor (runtime/executor.cpp) ---------------------------------------------------------

void Schedule::train_step() {
  zero_grads();
  for (int i = 0; i < plan_.grad_accum; ++i) {
    mb_index_ = i;
    forward_blocks();
    head();
    backward_blocks();
    host_sync({record(Resource::Compute)});  // sum_losses reads the losses back
  }
  step();
  host_sync({record(Resource::Compute), record(Resource::H2D), record(Resource::D2H)});
  step_end.push_back(host_);
}

void Schedule::forward_blocks() {
  acquire(0, false);
  dev_op(Resource::Compute, mb_.embedding_forward_s, {}, "embedding");
  release(0, false);
  for (int l = 0; l < L_; ++l) {
    acquire(l + 1, false);
    act_forward_begin(l);
    dev_op(Resource::Compute, mb_.block_forward_s, {}, "forward", l);
    act_forward_end(l);
    release(l + 1, false);
  }
}

void Schedule::head() {
  const int hg = L_ + 1;
  const bool tied = ctx_.profile.model.tied_head;
  acquire(hg, true);
  if (tied) acquire(0, true);
  dev_op(Resource::Compute, mb_.head_s, {}, "head");
  if (tied) release(0, true);
  release(hg, true);
}

void Schedule::backward_blocks() {
  for (int l = L_ - 1; l >= 0; --l) {
    acquire(l + 1, true);
    if (act_backward_begin(l)) dev_op(Resource::Compute, mb_.block_recompute_s, {}, "recompute", l);
    dev_op(Resource::Compute, mb_.block_backward_s, {}, "backward", l);
    act_backward_end(l);
    release(l + 1, true);
  }
  acquire(0, true);
  dev_op(Resource::Compute, mb_.embedding_backward_s, {}, "embedding backward");
  release(0, true);
}

// ---- chunk manager (memory/chunk_manager.cpp) --------------------------------------------------

double Schedule::chunk_bytes(int c) const {
  return static_cast<double>(ctx_.chunks.layout.chunk_used[c]) * asz_;
}

int Schedule::advance(int group, bool backward) {
  const int n = static_cast<int>(ctx_.order.size());
  for (int i = 1; i <= n; ++i) {
    const int p = (seq_pos_ + i) % n;
    if (ctx_.order[p].first == group && ctx_.order[p].second == backward) return seq_pos_ = p;
  }
  return seq_pos_;
}

int Schedule::next_use(int c, int pos) const {
  return ctx_.next_use[static_cast<size_t>(c) * ctx_.order.size() + pos];
}

int Schedule::pick_victim(int for_chunk, int pos, bool must) {
  int best = -1, best_dist = -1;
  const int want = must ? -1 : next_use(for_chunk, pos);
  for (int b = 0; b < nb_; ++b) {
    const int c = bufs_[b].chunk;
    if (c < 0) return b;
    const Chunk& ch = chunks_[c];
    if (ch.refs > 0 || ch.grads_live) continue;
    const int d = next_use(c, pos);
    if (d > best_dist) best = b, best_dist = d;
  }
  if (best < 0) return -1;
  if (!must && best_dist <= want) return -1;
  return best;
}

void Schedule::upload(int c, int b) {
  Buffer& buf = bufs_[b];
  if (buf.chunk >= 0) chunks_[buf.chunk].buf = -1;
  Chunk& ch = chunks_[c];
  stream_wait(Resource::H2D, buf.last_use);
  stream_wait(Resource::H2D, buf.offloaded);
  if (ch.tickets) {  // wait_updates_async: the upload must see the chunk's updated parameters
    stream_wait(Resource::H2D, ch.adam);
    ch.tickets = false;
  }
  buf.ready = dev_op(Resource::H2D, chunk_bytes(c) / hw_.h2d_bps, {}, "upload", c);
  buf.chunk = c;
  ch.buf = b;
  ++uploads;
  upload_bytes += static_cast<uint64_t>(chunk_bytes(c));
}

void Schedule::ensure_resident(int c, int pos) {
  if (chunks_[c].buf >= 0) return;
  const int b = pick_victim(c, pos, true);
  MART_CHECK(b >= 0, "cost model: no buffer for chunk ", c, " (n_buffer ", nb_, ")");
  upload(c, b);
}

void Schedule::prefetch(int pos) {
  const int n = static_cast<int>(ctx_.order.size());
  if (n == 0 || nb_ == 0) return;
  wanted_.clear();
  for (int i = 1; i <= n && static_cast<int>(wanted_.size()) < nb_; ++i)
    for (int c : ctx_.chunks.group_chunks[ctx_.order[(pos + i) % n].first])
      if (!persistent(c) && std::find(wanted_.begin(), wanted_.end(), c) == wanted_.end())
        wanted_.push_back(c);
  for (int c : wanted_) {
    if (chunks_[c].buf >= 0) continue;
    const int b = pick_victim(c, pos, false);
    if (b < 0) return;
    upload(c, b);
  }
}

void Schedule::init_grads(int c) {
  Chunk& ch = chunks_[c];
  if (ch.mb_done == 0) {
    dev_op(Resource::Compute, chunk_bytes(c) / hw_.mem_bw_bps, {}, "zero grads", c);
  } else {
    stream_wait(Resource::H2D, ch.offloaded);
    const OpId up = dev_op(Resource::H2D, chunk_bytes(c) / hw_.h2d_bps, {}, "grad upload", c);
    stream_wait(Resource::Compute, up);
    ++uploads;
    upload_bytes += static_cast<uint64_t>(chunk_bytes(c));
  }
  ch.grads_live = true;
}

void Schedule::acquire(int group, bool backward) {
  const int pos = advance(group, backward);
  for (int c : ctx_.chunks.group_chunks[group]) {
    if (persistent(c)) continue;
    ensure_resident(c, pos);
    Chunk& ch = chunks_[c];
    stream_wait(Resource::Compute, bufs_[ch.buf].ready);
    if (backward && !ch.grads_live) init_grads(c);
    ++ch.refs;
  }
  prefetch(pos);
}

void Schedule::release(int group, bool backward) {
  for (int c : ctx_.chunks.group_chunks[group]) {
    if (persistent(c)) continue;
    Chunk& ch = chunks_[c];
    --ch.refs;
    bufs_[ch.buf].last_use = record(Resource::Compute);
    if (backward && --ch.bwd_uses_left == 0) finish_backward(c);
  }
}

void Schedule::finish_backward(int c) {
  Chunk& ch = chunks_[c];
  ch.bwd_uses_left = ch.bwd_uses_per_mb;
  ch.grads_live = false;
  ++ch.mb_done;
  const bool last_mb = mb_index_ == plan_.grad_accum - 1;
  const double numel = static_cast<double>(ctx_.chunks.chunk_numel[c]);
  if (last_mb) dev_op(Resource::Compute, numel * asz_ / hw_.mem_bw_bps, {}, "grad sumsq", c);
  stream_wait(Resource::D2H, record(Resource::Compute));
  const OpId off = dev_op(Resource::D2H, chunk_bytes(c) / hw_.d2h_bps, {}, "offload", c);
  ch.offloaded = bufs_[ch.buf].offloaded = off;
  ++offloads;
  offload_bytes += static_cast<uint64_t>(chunk_bytes(c));
  if (last_mb && !opt_.grad_clip) {
    // Submitted by a host task on the D2H stream right after the copy, not by the host thread.
    ch.adam = sim_.add(Resource::CpuAdam, numel / hw_.cpu_adam_elems_per_s, {off}, "cpu adam", c);
    ch.tickets = true;
  }
}

void Schedule::zero_grads() {
  double bytes = 0;
  for (int c = 0; c < np_; ++c) bytes += chunk_bytes(c);
  if (np_ > 0) dev_op(Resource::Compute, bytes / hw_.mem_bw_bps, {}, "zero grads");
  for (auto& ch : chunks_) {
    ch.mb_done = 0;
    ch.grads_live = false;
    ch.bwd_uses_left = ch.bwd_uses_per_mb;
  }
}

void Schedule::step() {
  double numel = 0;
  for (int c = 0; c < np_; ++c) numel += static_cast<double>(ctx_.chunks.chunk_numel[c]);
  if (np_ > 0) dev_op(Resource::Compute, numel * asz_ / hw_.mem_bw_bps, {}, "grad sumsq");
  host_sync({record(Resource::Compute)});  // the norms are read back for the global norm
  if (np_ > 0) dev_op(Resource::Compute, numel / hw_.device_adam_elems_per_s, {}, "device adam");
  if (opt_.grad_clip) {
    for (int c = np_; c < nc_; ++c) {
      host_sync({chunks_[c].offloaded});
      chunks_[c].adam =
          dev_op(Resource::CpuAdam,
                 static_cast<double>(ctx_.chunks.chunk_numel[c]) / hw_.cpu_adam_elems_per_s, {},
                 "cpu adam", c);
      chunks_[c].tickets = true;
    }
  } else {
    host_sync({record(Resource::D2H)});
  }
  for (auto& b : bufs_)
    if (b.chunk >= 0) chunks_[b.chunk].buf = -1, b.chunk = -1;
  seq_pos_ = -1;
}

// ---- activation manager (memory/activation_manager.cpp) ---------------------------------------

void Schedule::act_forward_begin(int b) {
  switch (modes_[b]) {  // a staging slot must be free before the block's forward writes it
    case ActMode::Keep:
    case ActMode::Checkpoint:
    case ActMode::Compress:
      return;
    case ActMode::Swap:
      stream_wait(Resource::Compute, slot_copy_[slot_of(b)]);
      return;
    case ActMode::CompressSwap:
      stream_wait(Resource::Compute, cslot_copy_[cslot_of(b)]);
      return;
  }
}

void Schedule::act_forward_end(int b) {
  switch (modes_[b]) {
    case ActMode::Keep:
    case ActMode::Checkpoint:
      return;
    case ActMode::Swap:
      if (host_body_[b]) swap_out(b);
      return;
    case ActMode::Compress:
    case ActMode::CompressSwap:
      codec(b, "encode");
      // On a GPU the encoder's output size is read back before the encoding is placed (in the
      // block's region, or for compress_swap in its staging slot).
      if (!inline_) host_sync({record(Resource::Compute)});
      if (modes_[b] == ActMode::CompressSwap && host_body_[b]) cswap_out(b);
      return;
  }
}

bool Schedule::act_backward_begin(int b) {
  switch (modes_[b]) {
    case ActMode::Keep:
      return false;
    case ActMode::Checkpoint:
      return true;
    case ActMode::Swap:
      stream_wait(Resource::Compute, slot_copy_[slot_of(b)]);
      return false;
    case ActMode::Compress:
      codec(b, "decode");
      return false;
    case ActMode::CompressSwap: {
      stream_wait(Resource::Compute, cslot_copy_[cslot_of(b)]);
      codec(b, "decode");
      // The slot is free once decoded: prefetch the compress_swap block kSwapStages earlier.
      const int prev = cswap_index_[b] - cstages_;
      if (prev >= 0) cswap_in(cswap_blocks_[prev]);
      return false;
    }
  }
  return false;
}

void Schedule::act_backward_end(int b) {
  switch (modes_[b]) {
    case ActMode::Keep:
    case ActMode::Checkpoint:
    case ActMode::Compress:
    case ActMode::CompressSwap:  // (its prefetch starts in act_backward_begin, once decoded)
      return;
    case ActMode::Swap: {  // the slot is free: prefetch the swapped block kSwapStages earlier
      const int prev = swap_index_[b] - stages_;
      if (prev >= 0) swap_in(swap_blocks_[prev]);
      return;
    }
  }
}

void Schedule::codec(int b, const char* what) {
  const double bytes = static_cast<double>(ctx_.body.act_values * ctx_.body.act_size);
  dev_op(Resource::Compute, bytes / hw_.codec_bps, {}, what, b);
}

// A swap copy of `bytes` for block b: out after a compute event (the forward or the encode that
// filled the slot), in after a compute event (whatever freed the slot) and b's own swap-out.
Schedule::OpId Schedule::copy_out(int b, double bytes, const char* name) {
  stream_wait(Resource::D2H, record(Resource::Compute));
  host_ready_[b] = dev_op(Resource::D2H, bytes / hw_.d2h_bps, {}, name, b);
  swap_bytes += static_cast<uint64_t>(bytes);
  return host_ready_[b];
}

Schedule::OpId Schedule::copy_in(int b, double bytes, const char* name) {
  stream_wait(Resource::H2D, record(Resource::Compute));
  stream_wait(Resource::H2D, host_ready_[b]);
  swap_bytes += static_cast<uint64_t>(bytes);
  return dev_op(Resource::H2D, bytes / hw_.h2d_bps, {}, name, b);
}

void Schedule::swap_out(int b) {
  slot_copy_[slot_of(b)] = copy_out(b, static_cast<double>(ctx_.body.bytes()), "swap out");
}

void Schedule::swap_in(int b) {
  slot_copy_[slot_of(b)] = copy_in(b, static_cast<double>(ctx_.body.bytes()), "swap in");
}

// compress_swap: the encoding leaves its staging slot after the encode, and a slot comes back
// from the host after the decode that freed it.
void Schedule::cswap_out(int b) {
  cslot_copy_[cslot_of(b)] = copy_out(b, cswap_bytes_, "cswap out");
}

void Schedule::cswap_in(int b) {
  cslot_copy_[cslot_of(b)] = copy_in(b, cswap_bytes_, "cswap in");
}

}  // namespace mart
