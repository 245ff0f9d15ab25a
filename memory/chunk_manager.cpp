#include "memory/chunk_manager.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/error.h"
#include "common/error_kinds.h"
#include "layout/chunk_memory.h"
#include "memory/host_allocator.h"

namespace mart {
namespace {

constexpr int kNever = 1 << 30;

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

// Per-chunk state. Device regions for persistent chunks; host buffers for offloaded ones.
struct ChunkManager::Chunk {
  // persistent: [param | grad] (act) then m, v (+ master) fp32, each chunk_elems long
  Region dev;
  // offloaded, host: fp32 master (the CPU backend's upload source too), m, v; act-dtype upload
  // copy (CUDA: bf16, written by CPU Adam) and gradient landing buffer.
  float* master = nullptr;
  float* m = nullptr;
  float* v = nullptr;
  void* upload = nullptr;
  void* hgrad = nullptr;
  int buf = -1;
  int refs = 0;
  int bwd_uses_per_mb = 0, bwd_uses_left = 0;
  int mb_done = 0;          // backward passes completed since zero_grads
  bool grads_live = false;  // the buffer holds this micro-batch's (partial) gradients
  Event offloaded;          // D2H of the last gradients
  std::mutex mu;            // guards tickets (written from the D2H stream's host task)
  std::vector<CpuAdam::Ticket> tickets;
};

struct ChunkManager::Buffer {
  Region region;  // [param | grad], act dtype
  int chunk = -1;
  Event ready, last_use, offloaded;
};

uint64_t ChunkManager::device_bytes(const ChunkLayout& L, int n_persist, int n_buffer, DType act,
                                    size_t n_tensors) {
  return chunk_state_device_bytes(L, n_persist, n_buffer, dtype_size(act), n_tensors);
}

uint64_t ChunkManager::host_bytes(const ChunkLayout& L, int n_persist, DType act) {
  return chunk_state_host_bytes(L, n_persist, dtype_size(act));
}

ChunkManager::ChunkManager(Device& dev, Ops& ops, DeviceArena& arena, HostAllocator& host,
                           CpuAdam& adam, ChunkLayout layout, std::vector<ChunkTensor> tensors,
                           ChunkManagerOptions opt)
    : dev_(dev),
      ops_(ops),
      arena_(arena),
      host_(host),
      adam_(adam),
      layout_(std::move(layout)),
      tensors_(std::move(tensors)),
      opt_(std::move(opt)),
      act_(ops.act_dtype()),
      asz_(dtype_size(act_)) {
  const int nc = layout_.n_chunks();
  n_persist_ = opt_.n_persist < 0 ? nc : std::min(opt_.n_persist, nc);
  MART_CHECK(n_persist_ == nc || opt_.n_buffer >= 1,
             "memory.n_buffer must be at least 1 when "
             "chunks are offloaded (n_persist ",
             n_persist_, " of ", nc, " chunks)");
  int n_groups = 0;
  for (auto& t : tensors_) n_groups = std::max(n_groups, t.group + 1);
  for (auto& u : opt_.use_sequence) n_groups = std::max(n_groups, u.group + 1);
  group_chunks_.resize(n_groups);
  for (size_t t = 0; t < tensors_.size(); ++t) {
    auto& g = group_chunks_[tensors_[t].group];
    int c = layout_.tensor_chunk[t];
    if (std::find(g.begin(), g.end(), c) == g.end()) g.push_back(c);
  }
  const uint64_t e = layout_.chunk_elems;
  for (int c = 0; c < nc; ++c) {
    auto ch = std::make_unique<Chunk>();
    for (auto& u : opt_.use_sequence)
      if (u.backward) {
        auto& g = group_chunks_[u.group];
        ch->bwd_uses_per_mb += std::count(g.begin(), g.end(), c) > 0;
      }
    ch->bwd_uses_left = ch->bwd_uses_per_mb;
    if (persistent(c)) {
      ch->dev = arena_.alloc(e * (2 * asz_ + 8 + (act_ == DType::F32 ? 0 : 4)), "chunk_persist");
      // m and v start at zero
      dev_.memset_async(static_cast<char*>(ch->dev.ptr) + 2 * e * asz_, 0, 8 * e, kComputeStream);
    } else {
      ch->master = static_cast<float*>(host_.allocate(e * 4));
      ch->m = static_cast<float*>(host_.allocate(e * 4));
      ch->v = static_cast<float*>(host_.allocate(e * 4));
      ch->hgrad = host_.allocate(e * asz_);
      ch->upload = act_ == DType::F32 ? ch->master : host_.allocate(e * asz_);
      std::memset(ch->m, 0, e * 4);
      std::memset(ch->v, 0, e * 4);
      std::memset(ch->hgrad, 0, e * asz_);
      std::memset(ch->master, 0, e * 4);
      if (ch->upload != ch->master) std::memset(ch->upload, 0, e * asz_);
      stats_.host_bytes += e * (12 + asz_ + (act_ == DType::F32 ? 0 : asz_));
    }
    chunks_.push_back(std::move(ch));
  }
  if (n_persist_ < nc) {
    buffers_.resize(opt_.n_buffer);
    for (auto& b : buffers_) b.region = arena_.alloc(e * 2 * asz_, "chunk_buffer");
  }
  norms_ = arena_.alloc(tensors_.size() * 4, "grad_norms");
  stats_.device_bytes = device_bytes(layout_, n_persist_, opt_.n_buffer, act_, tensors_.size());
  dev_.synchronize_stream(kComputeStream);
}

ChunkManager::~ChunkManager() {
  try {
    synchronize();
  } catch (...) {
  }
  arena_.free(norms_);
  for (auto it = buffers_.rbegin(); it != buffers_.rend(); ++it) arena_.free(it->region);
  for (auto it = chunks_.rbegin(); it != chunks_.rend(); ++it) {
    Chunk& ch = **it;
    if (ch.dev) arena_.free(ch.dev);
    if (ch.master) {
      if (ch.upload != ch.master) host_.deallocate(ch.upload);
      for (void* p : {static_cast<void*>(ch.master), static_cast<void*>(ch.m),
                      static_cast<void*>(ch.v), ch.hgrad})
        host_.deallocate(p);
    }
  }
}

void* ChunkManager::dev_param(int c) {
  if (persistent(c)) return chunks_[c]->dev.ptr;
  const int b = chunks_[c]->buf;
  MART_CHECK(b >= 0, "chunk ", c,
             " used while not resident in a device buffer (acquire its "
             "group first)");
  return buffers_[b].region.ptr;
}

void* ChunkManager::dev_grad(int c) {
  return static_cast<char*>(dev_param(c)) + layout_.chunk_elems * asz_;
}

void* ChunkManager::param(int t) {
  return static_cast<char*>(dev_param(layout_.tensor_chunk[t])) + layout_.tensor_offset[t] * asz_;
}

void* ChunkManager::grad(int t) {
  return static_cast<char*>(dev_grad(layout_.tensor_chunk[t])) + layout_.tensor_offset[t] * asz_;
}

void* ChunkManager::host_grad(int c) {
  return chunks_[c]->hgrad;
}

int ChunkManager::advance(int group, bool backward) {
  const int n = static_cast<int>(opt_.use_sequence.size());
  for (int i = 1; i <= n; ++i) {
    int p = (seq_pos_ + i) % n;
    if (opt_.use_sequence[p].group == group && opt_.use_sequence[p].backward == backward)
      return seq_pos_ = p;
  }
  return seq_pos_;  // an acquisition outside the expected sequence (e.g. evaluation)
}

int ChunkManager::next_use(int c, int pos) const {
  const int n = static_cast<int>(opt_.use_sequence.size());
  for (int i = 1; i <= n; ++i) {
    const auto& g = group_chunks_[opt_.use_sequence[(pos + i + n) % n].group];
    if (std::find(g.begin(), g.end(), c) != g.end()) return i;
  }
  return kNever;
}

int ChunkManager::pick_victim(int for_chunk, int pos, bool must) {
  int best = -1, best_dist = -1;
  const int want = must ? -1 : next_use(for_chunk, pos);
  for (int b = 0; b < static_cast<int>(buffers_.size()); ++b) {
    const int c = buffers_[b].chunk;
    if (c < 0) return b;  // empty buffer
    const Chunk& ch = *chunks_[c];
    if (ch.refs > 0 || ch.grads_live) continue;
    const int d = next_use(c, pos);
    if (d > best_dist) best = b, best_dist = d;
  }
  if (best < 0) return -1;
  if (!must && best_dist <= want) return -1;  // the resident chunk is needed sooner
  return best;
}

void ChunkManager::upload(int c, int b) {
  Buffer& buf = buffers_[b];
  if (buf.chunk >= 0) chunks_[buf.chunk]->buf = -1;
  Chunk& ch = *chunks_[c];
  if (buf.last_use) dev_.wait(kH2DStream, buf.last_use);
  if (buf.offloaded) dev_.wait(kH2DStream, buf.offloaded);
  wait_updates_async(c);
  const uint64_t bytes = layout_.chunk_used[c] * asz_;
  std::shared_ptr<CopyRecord> rec;
  if (opt_.trace_copies) {
    rec = std::make_shared<CopyRecord>(CopyRecord{c, true, 0, 0});
    dev_.host_task(kH2DStream, [rec] { rec->start = now_s(); });
  }
  ChunkStepTrace* st = step_trace_.load(std::memory_order_acquire);
  Event st_start = st ? dev_.record(kH2DStream) : nullptr;
  dev_.memcpy_async(buf.region.ptr, ch.upload, bytes, CopyKind::HostToDevice, kH2DStream);
  if (rec) {
    dev_.host_task(kH2DStream, [rec] { rec->end = now_s(); });
    std::lock_guard<std::mutex> lk(log_mu_);
    traced_.push_back(rec);
  }
  buf.ready = dev_.record(kH2DStream);
  if (st) st->copies.push_back({ChunkStepTrace::Copy::Upload, c, bytes, st_start, buf.ready});
  buf.chunk = c;
  ch.buf = b;
  ++stats_.uploads;
  stats_.upload_bytes += bytes;
}

void ChunkManager::ensure_resident(int c, int pos) {
  if (chunks_[c]->buf >= 0) {
    ++stats_.buffer_hits;
    return;
  }
  int b = pick_victim(c, pos, true);
  MART_CHECK(b >= 0, "memory.n_buffer = ", buffers_.size(),
             " is too small: a group needs more "
             "offloaded chunks at once than there are device chunk buffers; raise memory.n_buffer");
  upload(c, b);
}

void ChunkManager::prefetch(int pos) {
  const int n = static_cast<int>(opt_.use_sequence.size());
  if (n == 0 || buffers_.empty()) return;
  std::vector<int> wanted;
  for (int i = 1; i <= n && wanted.size() < buffers_.size(); ++i) {
    for (int c : group_chunks_[opt_.use_sequence[(pos + i) % n].group])
      if (!persistent(c) && std::find(wanted.begin(), wanted.end(), c) == wanted.end())
        wanted.push_back(c);
  }
  for (int c : wanted) {
    if (chunks_[c]->buf >= 0) continue;
    int b = pick_victim(c, pos, false);
    if (b < 0) return;  // nothing can be evicted for it yet: keep order, try at the next acquire
    upload(c, b);
  }
}

void ChunkManager::init_grads(int c) {
  Chunk& ch = *chunks_[c];
  const uint64_t bytes = layout_.chunk_used[c] * asz_;
  if (ch.mb_done == 0) {
    dev_.memset_async(dev_grad(c), 0, bytes, kComputeStream);
  } else {
    // Accumulate on top of the earlier micro-batches' gradients, exactly as a resident run does.
    Buffer& buf = buffers_[ch.buf];
    if (ch.offloaded) dev_.wait(kH2DStream, ch.offloaded);
    ChunkStepTrace* st = step_trace_.load(std::memory_order_acquire);
    Event st_start = st ? dev_.record(kH2DStream) : nullptr;
    dev_.memcpy_async(dev_grad(c), ch.hgrad, bytes, CopyKind::HostToDevice, kH2DStream);
    const Event landed = dev_.record(kH2DStream);
    dev_.wait(kComputeStream, landed);
    if (st) st->copies.push_back({ChunkStepTrace::Copy::GradUpload, c, bytes, st_start, landed});
    (void)buf;
    ++stats_.grad_reuploads;
  }
  ch.grads_live = true;
}

void ChunkManager::acquire(int group, bool backward) {
  const int pos = advance(group, backward);
  for (int c : group_chunks_[group]) {
    if (persistent(c)) continue;
    ensure_resident(c, pos);
    Chunk& ch = *chunks_[c];
    dev_.wait(kComputeStream, buffers_[ch.buf].ready);
    if (backward && !ch.grads_live) init_grads(c);
    ++ch.refs;
  }
  prefetch(pos);
}

void ChunkManager::release(int group, bool backward) {
  Event ev;
  for (int c : group_chunks_[group]) {
    if (persistent(c)) continue;
    Chunk& ch = *chunks_[c];
    MART_CHECK(ch.refs > 0, "release of group ", group, " without a matching acquire");
    --ch.refs;
    if (!ev) ev = dev_.record(kComputeStream);
    buffers_[ch.buf].last_use = ev;
    if (backward && --ch.bwd_uses_left == 0) finish_backward(c);
  }
}

void ChunkManager::finish_backward(int c) {
  Chunk& ch = *chunks_[c];
  ch.bwd_uses_left = ch.bwd_uses_per_mb;
  ch.grads_live = false;
  ++ch.mb_done;
  const bool last_mb = mb_index_ == mb_count_ - 1;
  if (last_mb)
    for (int t : layout_.chunk_tensors[c])
      ops_.sumsq(static_cast<float*>(norms_.ptr) + t, grad(t), tensors_[t].numel);
  dev_.wait(kD2HStream, dev_.record(kComputeStream));
  const uint64_t bytes = layout_.chunk_used[c] * asz_;
  std::shared_ptr<CopyRecord> rec;
  if (opt_.trace_copies) {
    rec = std::make_shared<CopyRecord>(CopyRecord{c, false, 0, 0});
    dev_.host_task(kD2HStream, [rec] { rec->start = now_s(); });
  }
  ChunkStepTrace* st = step_trace_.load(std::memory_order_acquire);
  Event st_start = st ? dev_.record(kD2HStream) : nullptr;
  dev_.memcpy_async(ch.hgrad, dev_grad(c), bytes, CopyKind::DeviceToHost, kD2HStream);
  if (rec) {
    dev_.host_task(kD2HStream, [rec] { rec->end = now_s(); });
    std::lock_guard<std::mutex> lk(log_mu_);
    traced_.push_back(rec);
  }
  ch.offloaded = dev_.record(kD2HStream);
  if (st) st->copies.push_back({ChunkStepTrace::Copy::Offload, c, bytes, st_start, ch.offloaded});
  buffers_[ch.buf].offloaded = ch.offloaded;
  ++stats_.offloads;
  stats_.offload_bytes += bytes;
  if (last_mb && step_follows_ && pending_.grad_clip <= 0) {
    // No clipping: the update needs no global information, so it starts as soon as the
    // gradients are on the host, while backward continues on the device.
    // The hyperparameters travel by value: step() assigns pending_ on the calling thread while
    // this task may still run on the D2H worker.
    dev_.host_task(kD2HStream, [this, c, hyper = pending_] { submit_update(c, 1.0f, hyper); });
  }
}

void ChunkManager::submit_update(int c, float grad_scale, const ChunkOptimizerStep& hyper) {
  Chunk& ch = *chunks_[c];
  AdamWHyper h = hyper.adam;
  h.grad_scale = grad_scale;
  std::vector<CpuAdam::Ticket> tickets;
  ChunkStepTrace* st = step_trace_.load(std::memory_order_acquire);
  CpuAdam::Timed timed;
  if (st)
    timed = [st, c](double t0, double t1) {
      std::lock_guard<std::mutex> lk(st->mu);
      st->updates.push_back({c, t0, t1});
    };
  for (int t : layout_.chunk_tensors[c]) {
    const uint64_t off = layout_.tensor_offset[t];
    cpu::AdamWSpan s;
    s.grad = static_cast<char*>(ch.hgrad) + off * asz_;
    s.grad_dtype = act_;
    s.master = ch.master + off;
    s.m = ch.m + off;
    s.v = ch.v + off;
    s.out = act_ == DType::F32 ? nullptr : static_cast<char*>(ch.upload) + off * asz_;
    s.out_dtype = act_;
    s.n = tensors_[t].numel;
    h.weight_decay = tensors_[t].decay ? hyper.weight_decay : 0.0f;
    tickets.push_back(adam_.submit(s, h, timed));
  }
  std::lock_guard<std::mutex> lk(ch.mu);
  ch.tickets.insert(ch.tickets.end(), tickets.begin(), tickets.end());
}

void ChunkManager::wait_updates(int c) {
  Chunk& ch = *chunks_[c];
  std::vector<CpuAdam::Ticket> t;
  {
    std::lock_guard<std::mutex> lk(ch.mu);
    t.swap(ch.tickets);
  }
  for (auto k : t) adam_.wait(k);
}

void ChunkManager::wait_updates_async(int c) {
  // The upload of a chunk must see its updated parameters; the H2D stream (not the host) waits.
  bool pending;
  {
    std::lock_guard<std::mutex> lk(chunks_[c]->mu);
    pending = !chunks_[c]->tickets.empty();
  }
  if (pending) dev_.host_task(kH2DStream, [this, c] { wait_updates(c); });
}

void ChunkManager::zero_grads() {
  for (int c = 0; c < n_persist_; ++c)
    dev_.memset_async(static_cast<char*>(chunks_[c]->dev.ptr) + layout_.chunk_elems * asz_, 0,
                      layout_.chunk_used[c] * asz_, kComputeStream);
  for (auto& ch : chunks_) {
    ch->mb_done = 0;
    ch->grads_live = false;
    ch->bwd_uses_left = ch->bwd_uses_per_mb;
  }
}

void ChunkManager::begin_microbatch(int index, int count, const ChunkOptimizerStep* h) {
  mb_index_ = index;
  mb_count_ = count;
  step_follows_ = h != nullptr;
  if (h) pending_ = *h;
}

float ChunkManager::step(const ChunkOptimizerStep& h) {
  pending_ = h;
  float* norms = static_cast<float*>(norms_.ptr);
  for (int c = 0; c < n_persist_; ++c)
    for (int t : layout_.chunk_tensors[c]) ops_.sumsq(norms + t, grad(t), tensors_[t].numel);
  std::vector<float> host(tensors_.size());
  dev_.memcpy_async(host.data(), norms, host.size() * 4, CopyKind::DeviceToHost, kComputeStream);
  dev_.synchronize_stream(kComputeStream);
  double s = 0;
  for (float x : host) s += x;
  const float norm = static_cast<float>(std::sqrt(s));
  if (!std::isfinite(norm))
    MART_FAIL_NUMERIC("training diverged: the gradient norm is ", norm, " at step ", h.adam.step,
                      " (lower train.lr or enable train.grad_clip)");
  const float scale =
      h.grad_clip <= 0 || !(norm > h.grad_clip) ? 1.0f : h.grad_clip / (norm + 1e-6f);
  // Persistent chunks: AdamW on the device, tensor by tensor (as a resident run does).
  AdamWHyper a = h.adam;
  a.grad_scale = scale;
  for (int c = 0; c < n_persist_; ++c) {
    const uint64_t e = layout_.chunk_elems;
    char* base = static_cast<char*>(chunks_[c]->dev.ptr);
    float* m = reinterpret_cast<float*>(base + 2 * e * asz_);
    float* v = m + e;
    float* master = act_ == DType::F32 ? nullptr : v + e;
    for (int t : layout_.chunk_tensors[c]) {
      const uint64_t off = layout_.tensor_offset[t];
      a.weight_decay = tensors_[t].decay ? h.weight_decay : 0.0f;
      ops_.adamw_update(param(t), master ? master + off : nullptr, grad(t), m + off, v + off,
                        tensors_[t].numel, a, (static_cast<uint64_t>(h.adam.step) << 32) ^ t);
    }
  }
  // Offloaded chunks: CPU AdamW in forward order once each chunk's gradients are on the host.
  if (h.grad_clip > 0) {
    for (int c = n_persist_; c < layout_.n_chunks(); ++c) {
      if (chunks_[c]->offloaded) dev_.synchronize(chunks_[c]->offloaded);
      submit_update(c, scale, h);
    }
  } else {
    dev_.synchronize_stream(kD2HStream);  // every clip-free update has been submitted
  }
  // Parameters in the buffers are stale now; the next use uploads the updated ones.
  for (auto& b : buffers_)
    if (b.chunk >= 0) chunks_[b.chunk]->buf = -1, b.chunk = -1;
  seq_pos_ = -1;
  return norm;
}

void ChunkManager::synchronize() {
  dev_.synchronize();
  for (int c = n_persist_; c < layout_.n_chunks(); ++c) wait_updates(c);
  dev_.synchronize();
}

std::vector<CopyRecord> ChunkManager::copy_log() const {
  std::lock_guard<std::mutex> lk(log_mu_);
  std::vector<CopyRecord> out;
  for (auto& r : traced_) out.push_back(*r);
  return out;
}

// Host views for init and checkpoints. Callers are outside a step; pending work is drained first.
void ChunkManager::read_param(int t, float* host) {
  synchronize();
  const int c = layout_.tensor_chunk[t];
  const uint64_t n = tensors_[t].numel, off = layout_.tensor_offset[t], e = layout_.chunk_elems;
  if (!persistent(c)) return (void)std::memcpy(host, chunks_[c]->master + off, n * 4);
  char* base = static_cast<char*>(chunks_[c]->dev.ptr);
  const void* src = act_ == DType::F32 ? base + off * 4 : base + 2 * e * asz_ + 8 * e + off * 4;
  dev_.memcpy_async(host, src, n * 4, CopyKind::DeviceToHost, kComputeStream);
  dev_.synchronize_stream(kComputeStream);
}

void ChunkManager::write_param(int t, const float* host) {
  synchronize();
  const int c = layout_.tensor_chunk[t];
  const uint64_t n = tensors_[t].numel, off = layout_.tensor_offset[t], e = layout_.chunk_elems;
  std::vector<uint16_t> bf;
  if (act_ != DType::F32) {
    bf.resize(n);
    for (uint64_t i = 0; i < n; ++i) bf[i] = f32_to_bf16(host[i]);
  }
  const void* act_src = act_ == DType::F32 ? static_cast<const void*>(host) : bf.data();
  if (!persistent(c)) {
    Chunk& ch = *chunks_[c];
    std::memcpy(ch.master + off, host, n * 4);
    if (ch.upload != ch.master)
      std::memcpy(static_cast<char*>(ch.upload) + off * asz_, act_src, n * asz_);
    if (ch.buf >= 0) buffers_[ch.buf].chunk = -1, ch.buf = -1;  // buffer copy is stale
    return;
  }
  char* base = static_cast<char*>(chunks_[c]->dev.ptr);
  dev_.memcpy_async(base + off * asz_, act_src, n * asz_, CopyKind::HostToDevice, kComputeStream);
  if (act_ != DType::F32)
    dev_.memcpy_async(base + 2 * e * asz_ + 8 * e + off * 4, host, n * 4, CopyKind::HostToDevice,
                      kComputeStream);
  dev_.synchronize_stream(kComputeStream);
}

void ChunkManager::read_adam(int t, float* m, float* v) {
  synchronize();
  const int c = layout_.tensor_chunk[t];
  const uint64_t n = tensors_[t].numel, off = layout_.tensor_offset[t], e = layout_.chunk_elems;
  if (!persistent(c)) {
    std::memcpy(m, chunks_[c]->m + off, n * 4);
    std::memcpy(v, chunks_[c]->v + off, n * 4);
    return;
  }
  char* base = static_cast<char*>(chunks_[c]->dev.ptr) + 2 * e * asz_;
  dev_.memcpy_async(m, base + off * 4, n * 4, CopyKind::DeviceToHost, kComputeStream);
  dev_.memcpy_async(v, base + 4 * e + off * 4, n * 4, CopyKind::DeviceToHost, kComputeStream);
  dev_.synchronize_stream(kComputeStream);
}

void ChunkManager::write_adam(int t, const float* m, const float* v) {
  synchronize();
  const int c = layout_.tensor_chunk[t];
  const uint64_t n = tensors_[t].numel, off = layout_.tensor_offset[t], e = layout_.chunk_elems;
  if (!persistent(c)) {
    std::memcpy(chunks_[c]->m + off, m, n * 4);
    std::memcpy(chunks_[c]->v + off, v, n * 4);
    return;
  }
  char* base = static_cast<char*>(chunks_[c]->dev.ptr) + 2 * e * asz_;
  dev_.memcpy_async(base + off * 4, m, n * 4, CopyKind::HostToDevice, kComputeStream);
  dev_.memcpy_async(base + 4 * e + off * 4, v, n * 4, CopyKind::HostToDevice, kComputeStream);
  dev_.synchronize_stream(kComputeStream);
}

void ChunkManager::read_grad(int t, float* host) {
  dev_.synchronize();
  const int c = layout_.tensor_chunk[t];
  const uint64_t n = tensors_[t].numel, off = layout_.tensor_offset[t], e = layout_.chunk_elems;
  const void* src;
  bool on_host = false;
  if (persistent(c))
    src = static_cast<char*>(chunks_[c]->dev.ptr) + e * asz_ + off * asz_;
  else if (chunks_[c]->grads_live)
    src = static_cast<char*>(dev_grad(c)) + off * asz_;
  else
    src = static_cast<char*>(chunks_[c]->hgrad) + off * asz_, on_host = true;
  std::vector<uint16_t> bf(act_ == DType::F32 ? 0 : n);
  void* dst = act_ == DType::F32 ? static_cast<void*>(host) : bf.data();
  if (on_host)
    std::memcpy(dst, src, n * asz_);
  else {
    dev_.memcpy_async(dst, src, n * asz_, CopyKind::DeviceToHost, kComputeStream);
    dev_.synchronize_stream(kComputeStream);
  }
  for (uint64_t i = 0; i < bf.size(); ++i) host[i] = bf16_to_f32(bf[i]);
}

}  // namespace mart
