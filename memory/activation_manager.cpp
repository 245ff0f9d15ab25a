#include "memory/activation_manager.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "common/error.h"
#include "common/units.h"
#include "device/cuda_backend.h"
#include "kernels/codec.h"
#include "memory/host_allocator.h"

namespace mart {

// The planner's mirror of the arena rounding and of the codec layout must stay exact.
static_assert(kActArenaAlign == DeviceArena::kAlign);
static_assert(codec_meta_bytes(1) == codec::layout(1).payload);
static_assert(codec_meta_bytes(256) == codec::layout(256).payload);
static_assert(codec_meta_bytes(257) == codec::layout(257).payload);
static_assert(codec_meta_bytes(kCodecSegmentValues) == codec::layout(kCodecSegmentValues).payload);
static_assert(codec_max_encoded_bytes(12345) == codec::layout(12345).max_total);

namespace {
constexpr uint64_t align8(uint64_t v) {
  return (v + 7) / 8 * 8;
}
char* at(void* p, uint64_t off) {
  return static_cast<char*>(p) + off;
}
}  // namespace

uint64_t ActivationManager::codec_workspace_bytes(bool cuda_codec, uint64_t act_values) {
  if (!cuda_codec) return 0;
  const uint64_t n = std::min(act_values, kCodecSegmentValues);
  // A dry run (mart plan) must not load CUDA to size a workspace: without a loaded backend the
  // device-free upper bound is used; with one, the exact size (the same bound without a device).
  if (const CudaBackend* b = cuda_backend_if_loaded()) return b->codec_encode_workspace_bytes(n);
  return codec::cuda_encode_workspace_bound(n);
}

ActMemory ActivationManager::memory_needed(const std::vector<ActMode>& modes, const ActBody& body,
                                           const CompressBudget& budget, bool cuda_codec) {
  CompressBudget c = budget;
  const bool any_comp = std::any_of(modes.begin(), modes.end(), act_mode_compresses);
  c.codec_workspace_bytes = any_comp ? codec_workspace_bytes(cuda_codec, body.act_values) : 0;
  return activation_memory(modes, body, c);
}

uint64_t ActivationManager::device_bytes_needed(const std::vector<ActMode>& modes,
                                                const ActBody& body, const CompressBudget& budget,
                                                bool cuda_codec) {
  return memory_needed(modes, body, budget, cuda_codec).device_bytes;
}

ActivationManager::ActivationManager(Device& dev, DeviceArena& arena, HostAllocator* host,
                                     std::vector<ActMode> modes, const ActBody& body,
                                     const ActivationOptions& opt)
    : dev_(dev),
      arena_(arena),
      host_(host),
      modes_(std::move(modes)),
      body_(body),
      opt_(opt),
      swap_(dev, opt.trace ? &trace_ : nullptr),
      cswap_(dev, opt.trace ? &trace_ : nullptr) {
  cuda_ = dev.backend() == Backend::CUDA;
  const bool any_comp = std::any_of(modes_.begin(), modes_.end(), act_mode_compresses);
  if (any_comp) {
    MART_CHECK(opt_.act_dtype == DType::F32 || opt_.act_dtype == DType::BF16,
               "activation modes 'compress' and 'compress_swap' encode F32 or BF16 activations; "
               "this backend's are ",
               dtype_name(opt_.act_dtype), ": use keep, checkpoint or swap");
    MART_CHECK(body_.act_size == dtype_size(opt_.act_dtype), "activation body: act_size ",
               body_.act_size, " does not match the act dtype ", dtype_name(opt_.act_dtype));
    MART_CHECK(opt_.eb > 0 && std::isfinite(opt_.eb), "activations.eb = ", opt_.eb,
               ": the compress error bound must be finite and > 0");
  }
  const ActMemory m = memory_needed(modes_, body_, opt_.budget, cuda_);
  opt_.budget.codec_workspace_bytes = any_comp ? codec_workspace_bytes(cuda_, body_.act_values) : 0;
  MART_CHECK(m.host_bytes == 0 || host_ != nullptr,
             "activation modes 'swap' and 'compress_swap' need pinned host memory, but no host "
             "allocator was given");

  // Regions in a fixed order: per-block ones in block order, then the shared ones. A failure
  // part-way (arena or pinned host exhausted) gives back what was taken before rethrowing.
  try {
    allocate(m);
  } catch (...) {
    release();
    throw;
  }
}

void ActivationManager::set_trace(bool on) {
  opt_.trace = on;
  swap_.set_trace(on ? &trace_ : nullptr);
  cswap_.set_trace(on ? &trace_ : nullptr);
}

void ActivationManager::allocate(const ActMemory& m) {
  const int n = n_blocks();
  own_.resize(n);
  segments_.resize(n);
  fallback_.assign(n, 0);
  measured_pass_.assign(n, -1);
  fwd_start_.resize(n);
  bwd_start_.resize(n);
  stats_.blocks.resize(n);
  stats_.saved_device_bytes.assign(n, 0);
  stats_.layout = m;
  const bool dry = arena_.base() == nullptr;  // planning-only arena: no host memory either
  std::vector<int> swapped, cswapped;
  for (int b = 0; b < n; ++b) {
    BlockActStats& s = stats_.blocks[b];
    s.mode = modes_[b];
    s.transient_bytes = m.block_transient_bytes[b];
    switch (modes_[b]) {  // what each mode owns (layout/activation_memory.h)
      case ActMode::Keep:
        own_[b] = arena_.alloc(body_.bytes(), "act_keep");
        break;
      case ActMode::Checkpoint:
        break;
      case ActMode::Swap:
        swapped.push_back(b);
        break;
      case ActMode::Compress:
        own_[b] = arena_.alloc(compress_region_bytes(body_, opt_.budget), "act_compress");
        break;
      case ActMode::CompressSwap:
        cswapped.push_back(b);
        break;
    }
    if (act_mode_compresses(modes_[b])) s.eb = opt_.eb;
    s.device_bytes = own_[b].bytes;
    stats_.saved_device_bytes[b] = s.device_bytes;
    stats_.device_bytes += s.device_bytes;
  }
  if (m.scratch_bytes) {
    scratch_ = arena_.alloc(body_.bytes(), "act_recompute");
    stats_.device_bytes += scratch_.bytes;
  }
  swap_.allocate(arena_, host_,
                 {swapped, n, m.swap_stages, body_.bytes(), body_.bytes(), "act_swap_stage"});
  stats_.device_bytes += swap_.slot_arena_bytes();
  if (m.codec_bytes > 0) {  // any compressed block
    codec_layout_ = codec_scratch_layout(body_, opt_.budget);
    codec_ = arena_.alloc(codec_layout_.bytes, "act_codec");
    stats_.device_bytes += codec_.bytes;
    enc_capacity_ = compress_encoded_capacity(body_, opt_.budget);
    if (!dry) dev_.memset_async(at(codec_.ptr, codec_layout_.words), 0, 16, kComputeStream);
    if (opt_.adaptive_eb) {
      codec::AdaptiveConfig ac = opt_.adaptive;
      ac.eb_init = opt_.eb;
      ac.eb_min = std::min(ac.eb_min, ac.eb_init);
      ac.eb_max = std::max(ac.eb_max, ac.eb_init);
      adaptive_ = std::make_unique<codec::AdaptiveBound>(n, ac);
    }
  }
  const bool any_cswap = !cswapped.empty();
  cswap_.allocate(
      arena_, host_,
      {cswapped, n, m.cswap_stages, any_cswap ? compress_region_bytes(body_, opt_.budget) : 0,
       any_cswap ? compress_swap_host_bytes(body_, opt_.budget) : 0, "act_cswap_stage"});
  stats_.device_bytes += cswap_.slot_arena_bytes();
  for (int b = 0; b < n; ++b) {
    const uint64_t hb = m.block_host_bytes[b];
    stats_.blocks[b].host_bytes = hb;
    stats_.host_bytes += hb;
    // The lanes took exactly the formula's host blocks.
    MART_CHECK(dry || (hb > 0) == (swap_.host_backed(b) || cswap_.host_backed(b)),
               "activation manager: block ", b, " host bytes ", hb,
               " disagree with its swap lane; a bug");
  }
  // Invariant: what was allocated is what the pure formula predicts (planner == runtime).
  MART_CHECK(stats_.device_bytes == m.device_bytes && stats_.host_bytes == m.host_bytes,
             "activation manager: allocated ", stats_.device_bytes, " device / ", stats_.host_bytes,
             " host bytes but activation_memory() predicts ", m.device_bytes, " / ", m.host_bytes);
}

ActivationManager::~ActivationManager() {
  release();
}

void ActivationManager::release() {
  // Copies may still read a staging slot or write a host body.
  dev_.synchronize();
  cswap_.release(arena_, host_);
  if (codec_) arena_.free(std::exchange(codec_, Region{}));
  swap_.release(arena_, host_);
  if (scratch_) arena_.free(std::exchange(scratch_, Region{}));
  for (auto it = own_.rbegin(); it != own_.rend(); ++it)
    if (*it) arena_.free(std::exchange(*it, Region{}));
}

float ActivationManager::bound(int b) const {
  return adaptive_ ? adaptive_->eb(b) : opt_.eb;
}

char* ActivationManager::scratch_act(uint64_t s) const {
  return at(scratch_.ptr, s * kCodecSegmentValues * body_.act_size);
}

void* ActivationManager::forward_body(int b) const {
  switch (modes_[b]) {
    case ActMode::Keep:
      return own_[b].ptr;
    case ActMode::Swap:
      return swap_.slot(b);
    case ActMode::Checkpoint:
    case ActMode::Compress:
    case ActMode::CompressSwap:
      break;
  }
  return scratch_.ptr;
}

void* ActivationManager::compressed_region(int b) const {
  switch (modes_[b]) {
    case ActMode::Compress:
      return own_[b].ptr;
    case ActMode::CompressSwap:
      return cswap_.slot(b);
    case ActMode::Keep:
    case ActMode::Checkpoint:
    case ActMode::Swap:
      break;
  }
  MART_FAIL("activation manager: block ", b, " (", act_mode_name(modes_[b]),
            ") has no compressed region; a manager bug");
}

void ActivationManager::count_copies() {
  stats_.swap_out_bytes = swap_.out_bytes();
  stats_.swap_in_bytes = swap_.in_bytes();
  stats_.cswap_out_bytes = cswap_.out_bytes();
  stats_.cswap_in_bytes = cswap_.in_bytes();
}

void* ActivationManager::forward_begin(int b) {
  // A lane slot is rewritten: its last copy (a swap-out of this pass, or a prefetch of the
  // previous backward) must have finished reading or writing it.
  switch (modes_[b]) {
    case ActMode::Keep:
    case ActMode::Checkpoint:
    case ActMode::Compress:
      break;
    case ActMode::Swap:
      swap_.begin_forward(b);
      break;
    case ActMode::CompressSwap:
      cswap_.begin_forward(b);
      break;
  }
  if (opt_.trace) fwd_start_[b] = dev_.record(kComputeStream);
  return forward_body(b);
}

void ActivationManager::forward_end(int b) {
  if (opt_.trace)
    trace_.push_back({ActTraceEntry::Forward, b, fwd_start_[b], dev_.record(kComputeStream)});
  if (opt_.body_hook) opt_.body_hook(b, false, forward_body(b));
  switch (modes_[b]) {
    case ActMode::Keep:
    case ActMode::Checkpoint:
      break;
    case ActMode::Swap:
      swap_.end_forward(b, body_.bytes());
      break;
    case ActMode::Compress:
      compress(b);
      break;
    case ActMode::CompressSwap:
      cswap_.end_forward(b, compress(b));  // only the bytes the encoding fills travel
      break;
  }
  count_copies();
}

void ActivationManager::backward_start() {
  stats_.recomputed_blocks = 0;
  ++passes_;
}

void* ActivationManager::backward_begin(int b, bool* recompute) {
  *recompute = false;
  void* body = nullptr;
  switch (modes_[b]) {
    case ActMode::Keep:
      body = own_[b].ptr;
      break;
    case ActMode::Checkpoint:
      *recompute = true;
      body = scratch_.ptr;
      break;
    case ActMode::Swap:
      body = swap_.begin_backward(b);
      break;
    case ActMode::Compress:
    case ActMode::CompressSwap:
      body = scratch_.ptr;
      if (fallback_[b]) {
        *recompute = true;
      } else {
        MART_CHECK(!segments_[b].empty(), "activation manager: compressed block ", b,
                   " has no encoding at its backward (forward not run?)");
        if (modes_[b] == ActMode::CompressSwap) cswap_.begin_backward(b);
        decompress(b);
      }
      // The slot is free once the decode is issued: the next prefetch overlaps this backward.
      if (modes_[b] == ActMode::CompressSwap) {
        cswap_.release_slot(b);
        count_copies();
      }
      break;
  }
  if (*recompute)
    ++stats_.recomputed_blocks;
  else if (opt_.body_hook)
    opt_.body_hook(b, true, body);
  if (opt_.trace) bwd_start_[b] = dev_.record(kComputeStream);
  return body;
}

void ActivationManager::backward_end(int b) {
  if (opt_.trace)
    trace_.push_back({ActTraceEntry::Backward, b, bwd_start_[b], dev_.record(kComputeStream)});
  switch (modes_[b]) {
    case ActMode::Keep:
    case ActMode::Checkpoint:
      return;
    case ActMode::Compress:
    case ActMode::CompressSwap:  // (its slot was released once the decode was issued)
      segments_[b].clear();      // consumed
      return;
    case ActMode::Swap:
      // Refill the freed slot with the swapped block kSwapStages earlier in forward order: its
      // copy runs while the blocks between (at least the other slot's swapped block) compute
      // backward.
      swap_.release_slot(b);
      count_copies();
      return;
  }
}

// ---- compress -------------------------------------------------------------------------------

size_t ActivationManager::encode_segment(const void* src, uint64_t n, float eb) {
  uint8_t* out = reinterpret_cast<uint8_t*>(at(codec_.ptr, codec_layout_.out));
  const bool bf16 = opt_.act_dtype == DType::BF16;
  if (!cuda_) {
    return bf16 ? codec::encode_bf16(static_cast<const uint16_t*>(src), n, eb, out)
                : codec::encode(static_cast<const float*>(src), n, eb, out);
  }
  const CudaBackend& cuda = require_cuda_backend("activation compress on a CUDA device");
  void* stream = dev_.native_stream(kComputeStream);
  auto* size = reinterpret_cast<uint64_t*>(at(codec_.ptr, codec_layout_.words));
  void* ws = at(codec_.ptr, codec_layout_.workspace);
  cuda.codec_encode(src, bf16, n, eb, out, size, ws, opt_.budget.codec_workspace_bytes, stream);
  // The size decides where the encoding goes (or whether it fits): read it back. This
  // synchronises the compute stream once per segment (docs/ACTIVATIONS.md, "Costs").
  return cuda.codec_read_encoded_bytes(size, stream);
}

void ActivationManager::decode_segment(const uint8_t* enc, uint64_t enc_bytes, uint64_t n,
                                       void* dst) {
  const bool bf16 = opt_.act_dtype == DType::BF16;
  // A bf16 body is decoded to fp32 in the codec scratch, then rounded to bf16 into place.
  float* tmp =
      bf16 ? reinterpret_cast<float*>(at(codec_.ptr, codec_layout_.out)) : static_cast<float*>(dst);
  if (!cuda_) {
    codec::decode(enc, enc_bytes, tmp);
    if (bf16) {
      auto* d = static_cast<uint16_t*>(dst);
      for (uint64_t i = 0; i < n; ++i) d[i] = f32_to_bf16(tmp[i]);
    }
    return;
  }
  const CudaBackend& cuda = require_cuda_backend("activation decompress on a CUDA device");
  void* stream = dev_.native_stream(kComputeStream);
  auto* status = reinterpret_cast<int*>(at(codec_.ptr, codec_layout_.words + 8));
  cuda.codec_decode(enc, n, tmp, status, stream);
  if (bf16) cuda.f32_to_bf16(tmp, static_cast<uint16_t*>(dst), n, stream);
}

uint64_t ActivationManager::compress(int b) {
  BlockActStats& st = stats_.blocks[b];
  const float eb = bound(b);
  // bf16: the decoded fp32 value x' is rounded to the nearest bf16 y; since the original x is a
  // bf16, |y - x'| <= |x - x'|, so |y - x| <= 2 |x - x'|: encode with eb / 2 to bound y by eb.
  const float codec_eb = opt_.act_dtype == DType::BF16 ? eb * 0.5f : eb;
  const uint64_t act_bytes = body_.act_values * body_.act_size;
  char* region = static_cast<char*>(compressed_region(b));
  const uint64_t end = compress_stats_span(body_) + enc_capacity_;
  uint64_t off = compress_stats_span(body_), total = 0;
  const uint64_t nseg = codec_segments(body_.act_values);
  auto& segs = segments_[b];
  segs.assign(nseg, {});
  fallback_[b] = 0;
  for (uint64_t s = 0; s < nseg; ++s) {
    const uint64_t n = codec_segment_values(body_.act_values, s);
    const uint64_t bytes = encode_segment(scratch_act(s), n, codec_eb);
    if (off + bytes > end) {  // over budget: drop the encoding, recompute in backward
      fallback_[b] = 1;
      break;
    }
    dev_.memcpy_async(region + off, at(codec_.ptr, codec_layout_.out), bytes,
                      CopyKind::DeviceToDevice, kComputeStream);
    segs[s] = {off, bytes};
    total += bytes;
    off = align8(off + bytes);  // the CUDA decoder reads 8-byte aligned encodings
  }
  // The stream is idle after the size readback: surfacing a failed decode of the previous
  // backward costs nothing here.
  if (cuda_)
    require_cuda_backend("activation compress on a CUDA device")
        .codec_check_decode_status(
            reinterpret_cast<const int*>(at(codec_.ptr, codec_layout_.words + 8)),
            dev_.native_stream(kComputeStream));
  st.eb = eb;
  if (fallback_[b]) {
    ++st.fallbacks;
    st.encoded_bytes = 0;
    segs.clear();
    return 0;
  }
  st.encoded_bytes = total;
  dev_.memcpy_async(region, at(scratch_.ptr, act_bytes), body_.stat_bytes, CopyKind::DeviceToDevice,
                    kComputeStream);
  if (adaptive_ && adaptive_->should_measure(passes_) && measured_pass_[b] != passes_) {
    measured_pass_[b] = passes_;  // once per pass, whatever evaluations run in between
    measure(b);
  }
  // The region's filled bytes: the stats, then the segments up to the last one's end.
  return segs.empty() ? compress_stats_span(body_) : segs.back().offset + segs.back().bytes;
}

void ActivationManager::decompress(int b) {
  const uint64_t act_bytes = body_.act_values * body_.act_size;
  const char* region = static_cast<const char*>(compressed_region(b));
  for (uint64_t s = 0; s < segments_[b].size(); ++s) {
    const Segment& g = segments_[b][s];
    decode_segment(reinterpret_cast<const uint8_t*>(region + g.offset), g.bytes,
                   codec_segment_values(body_.act_values, s), scratch_act(s));
  }
  dev_.memcpy_async(at(scratch_.ptr, act_bytes), region, body_.stat_bytes, CopyKind::DeviceToDevice,
                    kComputeStream);
}

// Adaptive bound: the relative L2 error of what backward will see, measured on the host with the
// CPU codec (bit-identical to the CUDA one), times the configured propagation gain.
void ActivationManager::measure(int b) {
  const uint64_t n = body_.act_values;
  const bool bf16 = opt_.act_dtype == DType::BF16;
  std::vector<float> ref(n), got(n);
  std::vector<uint16_t> raw16(bf16 ? n : 0);
  void* ref_dst = bf16 ? static_cast<void*>(raw16.data()) : static_cast<void*>(ref.data());
  dev_.memcpy_async(ref_dst, scratch_.ptr, n * body_.act_size, CopyKind::DeviceToHost,
                    kComputeStream);
  std::vector<std::vector<uint8_t>> enc(segments_[b].size());
  for (size_t s = 0; s < enc.size(); ++s) {
    enc[s].resize(segments_[b][s].bytes);
    dev_.memcpy_async(enc[s].data(), at(compressed_region(b), segments_[b][s].offset),
                      enc[s].size(), CopyKind::DeviceToHost, kComputeStream);
  }
  dev_.synchronize_stream(kComputeStream);
  for (size_t s = 0; s < enc.size(); ++s)
    codec::decode(enc[s].data(), enc[s].size(), got.data() + s * kCodecSegmentValues);
  if (bf16)
    for (uint64_t i = 0; i < n; ++i) {
      ref[i] = bf16_to_f32(raw16[i]);
      got[i] = bf16_to_f32(f32_to_bf16(got[i]));
    }
  const double err = codec::relative_l2_error(ref.data(), got.data(), n);
  adaptive_->observe(b, codec::propagated_error(err, opt_.adaptive_gain));
}

}  // namespace mart
