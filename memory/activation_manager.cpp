#include "memory/activation_manager.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "common/error.h"
#include "common/units.h"
#include "kernels/codec.h"
#include "memory/host_allocator.h"

#ifdef MART_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "kernels/codec_cuda.h"
namespace mart::detail {
// memory/activation_manager.cu: dst[i] = bf16 round-to-nearest-even of src[i], on `stream`.
void act_f32_to_bf16(const float* src, uint16_t* dst, size_t n, cudaStream_t stream);
}  // namespace mart::detail
#endif

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
#ifdef MART_HAVE_CUDA
  if (cuda_codec)
    return codec::cuda::encode_workspace_bytes(std::min(act_values, kCodecSegmentValues));
#endif
  (void)act_values;
  MART_CHECK(!cuda_codec, "activation compress: the CUDA codec is not in this build");
  return 0;
}

ActMemory ActivationManager::memory_needed(const std::vector<ActMode>& modes, const ActBody& body,
                                           const CompressBudget& budget, bool cuda_codec) {
  CompressBudget c = budget;
  const bool any_comp = std::count(modes.begin(), modes.end(), ActMode::Compress) > 0;
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
    : dev_(dev), arena_(arena), host_(host), modes_(std::move(modes)), body_(body), opt_(opt) {
  cuda_ = dev.backend() == Backend::CUDA;
  const bool any_comp = std::count(modes_.begin(), modes_.end(), ActMode::Compress) > 0;
  if (any_comp) {
    MART_CHECK(opt_.act_dtype == DType::F32 || opt_.act_dtype == DType::BF16,
               "activation mode 'compress' encodes F32 or BF16 activations; this backend's are ",
               dtype_name(opt_.act_dtype), ": use keep, checkpoint or swap");
    MART_CHECK(body_.act_size == dtype_size(opt_.act_dtype), "activation body: act_size ",
               body_.act_size, " does not match the act dtype ", dtype_name(opt_.act_dtype));
    MART_CHECK(opt_.eb > 0 && std::isfinite(opt_.eb), "activations.eb = ", opt_.eb,
               ": the compress error bound must be finite and > 0");
  }
  const ActMemory m = memory_needed(modes_, body_, opt_.budget, cuda_);
  opt_.budget.codec_workspace_bytes = any_comp ? codec_workspace_bytes(cuda_, body_.act_values) : 0;
  MART_CHECK(m.host_bytes == 0 || host_ != nullptr,
             "activation mode 'swap' needs pinned host memory, but no host allocator was given");

  // Regions in a fixed order: per-block ones in block order, then the shared ones. A failure
  // part-way (arena or pinned host exhausted) gives back what was taken before rethrowing.
  try {
    allocate(m);
  } catch (...) {
    release();
    throw;
  }
}

void ActivationManager::allocate(const ActMemory& m) {
  const int n = n_blocks();
  own_.resize(n);
  swap_index_.assign(n, -1);
  host_body_.assign(n, nullptr);
  host_ready_.resize(n);
  segments_.resize(n);
  fallback_.assign(n, 0);
  measured_pass_.assign(n, -1);
  fwd_start_.resize(n);
  bwd_start_.resize(n);
  stats_.blocks.resize(n);
  stats_.saved_device_bytes.assign(n, 0);
  stats_.layout = m;
  const bool dry = arena_.base() == nullptr;  // planning-only arena: no host memory either
  for (int b = 0; b < n; ++b) {
    BlockActStats& s = stats_.blocks[b];
    s.mode = modes_[b];
    s.transient_bytes = m.block_transient_bytes[b];
    if (modes_[b] == ActMode::Keep) own_[b] = arena_.alloc(body_.bytes(), "act_keep");
    if (modes_[b] == ActMode::Compress) {
      own_[b] = arena_.alloc(compress_region_bytes(body_, opt_.budget), "act_compress");
      s.eb = opt_.eb;
    }
    if (modes_[b] == ActMode::Swap) {
      swap_index_[b] = static_cast<int>(swap_blocks_.size());
      swap_blocks_.push_back(b);
    }
    s.device_bytes = own_[b].bytes;
    stats_.saved_device_bytes[b] = s.device_bytes;
    stats_.device_bytes += s.device_bytes;
  }
  if (m.scratch_bytes) {
    scratch_ = arena_.alloc(body_.bytes(), "act_recompute");
    stats_.device_bytes += scratch_.bytes;
  }
  stages_ = m.swap_stages;
  for (int k = 0; k < stages_; ++k) {
    stage_.push_back(arena_.alloc(body_.bytes(), "act_swap_stage"));
    stats_.device_bytes += stage_.back().bytes;
  }
  slot_copy_.resize(stages_);
  slot_owner_.assign(stages_, -1);
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
  for (int b = 0; b < n; ++b) {
    const uint64_t hb = m.block_host_bytes[b];
    stats_.blocks[b].host_bytes = hb;
    stats_.host_bytes += hb;
    if (hb && !dry) host_body_[b] = host_->allocate(hb);
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
  for (void*& p : host_body_)
    if (p) host_->deallocate(std::exchange(p, nullptr));
  if (codec_) arena_.free(std::exchange(codec_, Region{}));
  while (!stage_.empty()) {
    arena_.free(stage_.back());
    stage_.pop_back();
  }
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
      return stage_[slot_of(b)].ptr;
    case ActMode::Checkpoint:
    case ActMode::Compress:
      break;
  }
  return scratch_.ptr;
}

void* ActivationManager::forward_begin(int b) {
  if (modes_[b] == ActMode::Swap) {
    const int k = slot_of(b);
    // The slot is rewritten: its last copy (a swap-out of this pass, or a prefetch of the
    // previous backward) must have finished reading or writing it.
    if (slot_copy_[k]) dev_.wait(kComputeStream, slot_copy_[k]);
    slot_owner_[k] = -1;
  }
  if (opt_.trace) fwd_start_[b] = dev_.record(kComputeStream);
  return forward_body(b);
}

void ActivationManager::forward_end(int b) {
  if (opt_.trace)
    trace_.push_back({ActTraceEntry::Forward, b, fwd_start_[b], dev_.record(kComputeStream)});
  if (opt_.body_hook) opt_.body_hook(b, false, forward_body(b));
  if (modes_[b] == ActMode::Swap) {
    const int k = slot_of(b);
    slot_owner_[k] = b;
    if (host_body_[b]) swap_out(b);
  } else if (modes_[b] == ActMode::Compress) {
    compress(b);
  }
}

void ActivationManager::swap_out(int b) {
  const int k = slot_of(b);
  // D2H of the slot after the block's forward wrote it; the slot stays owned by b (its contents
  // are valid) until a later forward_begin of the same slot rewrites it.
  dev_.wait(kD2HStream, dev_.record(kComputeStream));
  Event start = opt_.trace ? dev_.record(kD2HStream) : nullptr;
  dev_.memcpy_async(host_body_[b], stage_[k].ptr, body_.bytes(), CopyKind::DeviceToHost,
                    kD2HStream);
  slot_copy_[k] = host_ready_[b] = dev_.record(kD2HStream);
  stats_.swap_out_bytes += body_.bytes();
  if (opt_.trace) trace_.push_back({ActTraceEntry::SwapOut, b, start, slot_copy_[k]});
}

void ActivationManager::swap_in(int b) {
  const int k = slot_of(b);
  // The slot's previous owner finished its backward (compute event just recorded by the caller's
  // backward_end) and b's body has reached the host (its D2H event).
  dev_.wait(kH2DStream, dev_.record(kComputeStream));
  dev_.wait(kH2DStream, host_ready_[b]);
  Event start = opt_.trace ? dev_.record(kH2DStream) : nullptr;
  dev_.memcpy_async(stage_[k].ptr, host_body_[b], body_.bytes(), CopyKind::HostToDevice,
                    kH2DStream);
  slot_copy_[k] = dev_.record(kH2DStream);
  slot_owner_[k] = b;
  stats_.swap_in_bytes += body_.bytes();
  if (opt_.trace) trace_.push_back({ActTraceEntry::SwapIn, b, start, slot_copy_[k]});
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
    case ActMode::Swap: {
      const int k = slot_of(b);
      MART_CHECK(slot_owner_[k] == b, "activation manager: swapped block ", b,
                 " is not in its staging slot at its backward (forward not run?)");
      if (slot_copy_[k]) dev_.wait(kComputeStream, slot_copy_[k]);
      body = stage_[k].ptr;
      break;
    }
    case ActMode::Compress:
      body = scratch_.ptr;
      if (fallback_[b]) {
        *recompute = true;
      } else {
        MART_CHECK(!segments_[b].empty(), "activation manager: compressed block ", b,
                   " has no encoding at its backward (forward not run?)");
        decompress(b);
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
  if (modes_[b] == ActMode::Compress) segments_[b].clear();  // consumed
  if (modes_[b] != ActMode::Swap) return;
  const int k = slot_of(b);
  slot_owner_[k] = -1;
  // Refill the freed slot with the swapped block kSwapStages earlier in forward order: its copy
  // runs while the blocks between (at least the other slot's swapped block) compute backward.
  const int prev = swap_index_[b] - stages_;
  if (prev >= 0) swap_in(swap_blocks_[prev]);
}

// ---- compress -------------------------------------------------------------------------------

size_t ActivationManager::encode_segment(const void* src, uint64_t n, float eb) {
  uint8_t* out = reinterpret_cast<uint8_t*>(at(codec_.ptr, codec_layout_.out));
  const bool bf16 = opt_.act_dtype == DType::BF16;
  if (!cuda_) {
    return bf16 ? codec::encode_bf16(static_cast<const uint16_t*>(src), n, eb, out)
                : codec::encode(static_cast<const float*>(src), n, eb, out);
  }
#ifdef MART_HAVE_CUDA
  auto stream = static_cast<cudaStream_t>(dev_.native_stream(kComputeStream));
  auto* size = reinterpret_cast<uint64_t*>(at(codec_.ptr, codec_layout_.words));
  void* ws = at(codec_.ptr, codec_layout_.workspace);
  const size_t ws_bytes = opt_.budget.codec_workspace_bytes;
  if (bf16)
    codec::cuda::encode_bf16(static_cast<const uint16_t*>(src), n, eb, out, size, ws, ws_bytes,
                             stream);
  else
    codec::cuda::encode(static_cast<const float*>(src), n, eb, out, size, ws, ws_bytes, stream);
  // The size decides where the encoding goes (or whether it fits): read it back. This
  // synchronises the compute stream once per segment (docs/ACTIVATIONS.md, "Costs").
  return codec::cuda::read_encoded_bytes(size, stream);
#else
  MART_FAIL("activation compress: the CUDA codec is not in this build");
#endif
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
#ifdef MART_HAVE_CUDA
  auto stream = static_cast<cudaStream_t>(dev_.native_stream(kComputeStream));
  auto* status = reinterpret_cast<int*>(at(codec_.ptr, codec_layout_.words + 8));
  codec::cuda::decode(enc, n, tmp, status, stream);
  if (bf16) detail::act_f32_to_bf16(tmp, static_cast<uint16_t*>(dst), n, stream);
#else
  (void)enc_bytes;
  MART_FAIL("activation compress: the CUDA codec is not in this build");
#endif
}

void ActivationManager::compress(int b) {
  BlockActStats& st = stats_.blocks[b];
  const float eb = bound(b);
  // bf16: the decoded fp32 value x' is rounded to the nearest bf16 y; since the original x is a
  // bf16, |y - x'| <= |x - x'|, so |y - x| <= 2 |x - x'|: encode with eb / 2 to bound y by eb.
  const float codec_eb = opt_.act_dtype == DType::BF16 ? eb * 0.5f : eb;
  const uint64_t act_bytes = body_.act_values * body_.act_size;
  char* region = static_cast<char*>(own_[b].ptr);
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
#ifdef MART_HAVE_CUDA
  // The stream is idle after the size readback: surfacing a failed decode of the previous
  // backward costs nothing here.
  if (cuda_)
    codec::cuda::check_decode_status(
        reinterpret_cast<const int*>(at(codec_.ptr, codec_layout_.words + 8)),
        static_cast<cudaStream_t>(dev_.native_stream(kComputeStream)));
#endif
  st.eb = eb;
  if (fallback_[b]) {
    ++st.fallbacks;
    st.encoded_bytes = 0;
    segs.clear();
    return;
  }
  st.encoded_bytes = total;
  dev_.memcpy_async(region, at(scratch_.ptr, act_bytes), body_.stat_bytes, CopyKind::DeviceToDevice,
                    kComputeStream);
  if (adaptive_ && adaptive_->should_measure(passes_) && measured_pass_[b] != passes_) {
    measured_pass_[b] = passes_;  // once per pass, whatever evaluations run in between
    measure(b);
  }
}

void ActivationManager::decompress(int b) {
  const uint64_t act_bytes = body_.act_values * body_.act_size;
  const char* region = static_cast<const char*>(own_[b].ptr);
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
    dev_.memcpy_async(enc[s].data(), at(own_[b].ptr, segments_[b][s].offset), enc[s].size(),
                      CopyKind::DeviceToHost, kComputeStream);
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
