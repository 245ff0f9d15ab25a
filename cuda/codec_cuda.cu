// CUDA activation codec: cuda/codec_cuda.h. One 256-thread block per codec block; the per-value
// arithmetic is codec_math.h (the __f*_rn intrinsics in device code), so codes, widths, flags and
// bytes equal the CPU encoder's (kernels/cpu/codec_cpu.cpp) by construction.
#include <cmath>
#include <cub/device/device_scan.cuh>

#include "common/error.h"
#include "cuda/codec_cuda.h"
#include "kernels/codec.h"
#include "kernels/codec_format.h"
#include "kernels/codec_math.h"

#define MART_CODEC_CUDA_CHECK(expr)                                                                \
  do {                                                                                             \
    const cudaError_t err_ = (expr);                                                               \
    MART_CHECK(err_ == cudaSuccess, "codec cuda: ", #expr, " failed: ", cudaGetErrorString(err_)); \
  } while (0)

namespace mart::codec::cuda {
namespace {

using namespace detail;
constexpr int kThreads = static_cast<int>(kBlock);
static_assert(kThreads == 256, "one thread per value of a codec block");

__device__ __forceinline__ float load_value(const float* x, uint64_t i) {
  return x[i];
}
__device__ __forceinline__ float load_value(const uint16_t* x, uint64_t i) {
  return float_of(static_cast<uint32_t>(x[i]) << 16);
}

__device__ __forceinline__ uint32_t block_count(uint64_t n, uint64_t start) {
  return n - start < kBlock ? static_cast<uint32_t>(n - start) : kBlock;
}

// Block-wide min / max of one value per thread (8 warps); every thread gets the result.
template <bool kMin>
__device__ uint32_t block_reduce(uint32_t v, uint32_t* sh) {
  v = kMin ? __reduce_min_sync(0xffffffffu, v) : __reduce_max_sync(0xffffffffu, v);
  __syncthreads();  // sh may still be read by a previous reduction
  if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = v;
  __syncthreads();
  uint32_t r = sh[0];
  for (int k = 1; k < kThreads / 32; ++k) r = kMin ? min(r, sh[k]) : max(r, sh[k]);
  return r;
}

__device__ void write_meta(uint8_t* out, const Layout& l, uint64_t b, float base, uint32_t width,
                           uint8_t flags, uint32_t count, uint64_t* sizes) {
  reinterpret_cast<uint32_t*>(out + l.bases)[b] = bits_of(base);
  out[l.widths + b] = static_cast<uint8_t>(width);
  out[l.bflags + b] = flags;
  sizes[b] = block_bytes(count, width);
}

// Pass 1: base, codes (step s, then s/2), width, flags and payload size of each block; the same
// decisions as analyze_block() in codec_cpu.cpp.
template <class T>
__global__ void __launch_bounds__(kThreads)
    analyze_kernel(const T* x, uint64_t n, float eb, float s, uint8_t* out, Layout l,
                   uint64_t* sizes) {
  __shared__ uint32_t sh[kThreads / 32];
  const uint64_t b = blockIdx.x, start = b * kBlock;
  const uint32_t count = block_count(n, start);
  const uint32_t i = threadIdx.x;
  const bool valid = i < count;
  const float v = valid ? load_value(x, start + i) : 0.0f;
  const uint32_t u = bits_of(v);
  if (__syncthreads_or(valid && !is_finite_bits(u))) {
    if (i == 0) write_meta(out, l, b, 0.0f, 32, kRaw | kNonFinite, count, sizes);
    return;
  }
  const float base = float_of(key_to_bits(block_reduce<true>(valid ? order_key(u) : ~0u, sh)));
  uint32_t q = 0;
  uint8_t flags = 0;
  if (__syncthreads_or(valid && !code_value(v, base, s, eb, &q))) {
    flags = kHalfStep;
    q = 0;
    if (__syncthreads_or(valid && !code_value(v, base, half_step(s), eb, &q))) {
      if (i == 0) write_meta(out, l, b, 0.0f, 32, kRaw | kFallback, count, sizes);
      return;
    }
  }
  const uint32_t width = bit_width(block_reduce<false>(valid ? q : 0u, sh));
  if (i == 0) write_meta(out, l, b, base, width, flags, count, sizes);
}

// After the scan: offsets[0], the header, and the total size.
__global__ void finalize_kernel(uint8_t* out, uint64_t n, float eb, uint32_t hflags, Layout l,
                                uint64_t* d_size) {
  uint64_t* offsets = reinterpret_cast<uint64_t*>(out + l.offsets);
  offsets[0] = 0;
  const uint64_t payload = l.nblocks ? offsets[l.nblocks] : 0;
  write_header(out, n, eb, hflags, payload);
  *d_size = l.payload + payload;
}

// Pass 3: re-derive each block's codes from its stored base and step, pack them (shared-memory
// OR of each code's bits into the block's words), store the words.
template <class T>
__global__ void __launch_bounds__(kThreads)
    pack_kernel(const T* x, uint64_t n, float eb, float s, uint8_t* out, Layout l) {
  __shared__ uint32_t words[kBlock];
  const uint64_t b = blockIdx.x, start = b * kBlock;
  const uint32_t count = block_count(n, start);
  const uint32_t i = threadIdx.x;
  const bool valid = i < count;
  const uint32_t w = out[l.widths + b];
  if (w == 0) return;
  uint32_t* dst = reinterpret_cast<uint32_t*>(out + l.payload +
                                              reinterpret_cast<uint64_t*>(out + l.offsets)[b]);
  const float v = valid ? load_value(x, start + i) : 0.0f;
  if (w == 32) {
    if (valid) dst[i] = bits_of(v);
    return;
  }
  const float base = float_of(reinterpret_cast<const uint32_t*>(out + l.bases)[b]);
  const float st = (out[l.bflags + b] & kHalfStep) ? half_step(s) : s;
  uint32_t q = 0;
  if (valid) code_value(v, base, st, eb, &q);  // succeeds: pass 1 coded this block with st
  words[i] = 0;
  __syncthreads();
  if (valid) {
    const uint32_t bit = i * w, wi = bit >> 5, sh = bit & 31;
    atomicOr(&words[wi], q << sh);
    if (sh + w > 32) atomicOr(&words[wi + 1], q >> (32 - sh));
  }
  __syncthreads();
  if (i < (count * w + 31) / 32) dst[i] = words[i];
}

__global__ void __launch_bounds__(kThreads)
    decode_kernel(const uint8_t* in, uint64_t n, float* x, int* status) {
  const Layout l = layout(n);
  const bool header_ok = get_le<uint32_t>(in) == kMagic && get_le<uint16_t>(in + 4) == kVersion &&
                         get_le<uint32_t>(in + 8) == kBlock && get_le<uint64_t>(in + 16) == n;
  if (!header_ok) {
    if (status && threadIdx.x == 0) atomicExch(status, 1);
    return;
  }
  const uint64_t b = blockIdx.x, start = b * kBlock;
  const uint32_t count = block_count(n, start);
  const uint32_t i = threadIdx.x;
  const uint32_t w = in[l.widths + b];
  const uint8_t flags = in[l.bflags + b];
  const uint64_t* offsets = reinterpret_cast<const uint64_t*>(in + l.offsets);
  const uint64_t off = offsets[b];
  const bool meta_ok = w <= 32 && ((flags & kRaw) != 0) == (w == 32) &&
                       offsets[b + 1] - off == block_bytes(count, w) &&
                       offsets[b + 1] <= get_le<uint64_t>(in + 32);
  if (!meta_ok) {
    if (status && i == 0) atomicExch(status, 2);
    return;
  }
  if (i >= count) return;
  const uint32_t* src = reinterpret_cast<const uint32_t*>(in + l.payload + off);
  float y;
  if (w == 32) {
    y = float_of(src[i]);
  } else {
    const float base = float_of(reinterpret_cast<const uint32_t*>(in + l.bases)[b]);
    uint32_t q = 0;
    if (w > 0) {
      const uint32_t bit = i * w, wi = bit >> 5, sh = bit & 31;
      uint32_t lo = src[wi] >> sh;
      if (sh + w > 32) lo |= src[wi + 1] << (32 - sh);
      q = lo & ((1u << w) - 1u);
    }
    const float s = step_for(float_of(get_le<uint32_t>(in + 24)));
    y = recon(base, q, (flags & kHalfStep) ? half_step(s) : s);
  }
  x[start + i] = y;
}

// Workspace layout: u64 sizes[nblocks], then (256-byte aligned) the scan's temporary storage.
constexpr uint64_t sizes_region(uint64_t nblocks) {
  return cuda_sizes_region(nblocks);
}

uint64_t scan_temp_bytes(uint64_t nblocks) {
  if (nblocks == 0) return 0;
  // cub's query needs a device: without one, the device-free upper bound (kernels/codec.h).
  // With a device the exact query below runs, so a plan made by a process that uses the CUDA
  // backend matches the runtime to the byte.
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    cudaGetLastError();  // clear the sticky "no device" error
    return cuda_scan_temp_bound(nblocks);
  }
  size_t bytes = 0;
  MART_CODEC_CUDA_CHECK(
      cub::DeviceScan::InclusiveSum(nullptr, bytes, static_cast<uint64_t*>(nullptr),
                                    static_cast<uint64_t*>(nullptr), static_cast<int>(nblocks)));
  return bytes;
}

template <class T>
void encode_impl(const T* d_x, size_t n, float eb, uint8_t* d_out, uint64_t* d_encoded_bytes,
                 void* d_workspace, size_t workspace_bytes, cudaStream_t stream, uint32_t hflags) {
  MART_CHECK(std::isfinite(eb) && eb > 0, "codec cuda encode: error bound eb = ", eb,
             " must be finite and > 0");
  max_encoded_bytes(n);  // checks n against the format limit
  MART_CHECK(d_out != nullptr && reinterpret_cast<uintptr_t>(d_out) % 8 == 0,
             "codec cuda encode: output buffer must be non-null and 8-byte aligned");
  MART_CHECK(d_encoded_bytes != nullptr, "codec cuda encode: null d_encoded_bytes");
  MART_CHECK(d_x != nullptr || n == 0, "codec cuda encode: null input with n = ", n);
  const Layout l = layout(n);
  MART_CHECK(l.nblocks <= 0x7fffffffu, "codec cuda encode: n = ", n,
             " has more blocks than one launch/scan handles (2^31 - 1)");
  const size_t need = encode_workspace_bytes(n);
  const bool own = d_workspace == nullptr && need > 0;
  if (own) {
    MART_CODEC_CUDA_CHECK(cudaMallocAsync(&d_workspace, need, stream));
  } else {
    MART_CHECK(workspace_bytes >= need, "codec cuda encode: workspace of ", workspace_bytes,
               " bytes, need encode_workspace_bytes(n) = ", need);
    MART_CHECK(reinterpret_cast<uintptr_t>(d_workspace) % 256 == 0,
               "codec cuda encode: workspace must be 256-byte aligned (as cudaMalloc returns)");
  }
  const float s = step_for(eb);
  const unsigned grid = static_cast<unsigned>(l.nblocks);
  uint64_t* sizes = static_cast<uint64_t*>(d_workspace);
  if (grid > 0) {
    analyze_kernel<T><<<grid, kThreads, 0, stream>>>(d_x, n, eb, s, d_out, l, sizes);
    MART_CODEC_CUDA_CHECK(cudaGetLastError());
    size_t temp_bytes = scan_temp_bytes(l.nblocks);
    void* temp = static_cast<uint8_t*>(d_workspace) + sizes_region(l.nblocks);
    MART_CODEC_CUDA_CHECK(cub::DeviceScan::InclusiveSum(
        temp, temp_bytes, sizes, reinterpret_cast<uint64_t*>(d_out + l.offsets) + 1,
        static_cast<int>(l.nblocks), stream));
  }
  finalize_kernel<<<1, 1, 0, stream>>>(d_out, n, eb, hflags, l, d_encoded_bytes);
  MART_CODEC_CUDA_CHECK(cudaGetLastError());
  if (grid > 0) {
    pack_kernel<T><<<grid, kThreads, 0, stream>>>(d_x, n, eb, s, d_out, l);
    MART_CODEC_CUDA_CHECK(cudaGetLastError());
  }
  if (own) MART_CODEC_CUDA_CHECK(cudaFreeAsync(d_workspace, stream));
}

}  // namespace

size_t encode_workspace_bytes(size_t n) {
  const uint64_t nb = layout(n).nblocks;
  return nb ? static_cast<size_t>(sizes_region(nb) + scan_temp_bytes(nb)) : 0;
}

void encode(const float* d_x, size_t n, float eb, uint8_t* d_out, uint64_t* d_encoded_bytes,
            void* d_workspace, size_t workspace_bytes, cudaStream_t stream) {
  encode_impl(d_x, n, eb, d_out, d_encoded_bytes, d_workspace, workspace_bytes, stream, 0);
}

void encode_bf16(const uint16_t* d_x, size_t n, float eb, uint8_t* d_out, uint64_t* d_encoded_bytes,
                 void* d_workspace, size_t workspace_bytes, cudaStream_t stream) {
  encode_impl(d_x, n, eb, d_out, d_encoded_bytes, d_workspace, workspace_bytes, stream,
              kSourceBf16);
}

size_t read_encoded_bytes(const uint64_t* d_encoded_bytes, cudaStream_t stream) {
  uint64_t v = 0;
  MART_CODEC_CUDA_CHECK(
      cudaMemcpyAsync(&v, d_encoded_bytes, sizeof v, cudaMemcpyDeviceToHost, stream));
  MART_CODEC_CUDA_CHECK(cudaStreamSynchronize(stream));
  return static_cast<size_t>(v);
}

void decode(const uint8_t* d_in, size_t n, float* d_x, int* d_status, cudaStream_t stream) {
  MART_CHECK(d_in != nullptr && reinterpret_cast<uintptr_t>(d_in) % 8 == 0,
             "codec cuda decode: input buffer must be non-null and 8-byte aligned");
  max_encoded_bytes(n);
  const Layout l = layout(n);
  MART_CHECK(l.nblocks <= 0x7fffffffu, "codec cuda decode: n = ", n, " has too many blocks");
  if (l.nblocks == 0) return;
  MART_CHECK(d_x != nullptr, "codec cuda decode: null output for n = ", n);
  decode_kernel<<<static_cast<unsigned>(l.nblocks), kThreads, 0, stream>>>(d_in, n, d_x, d_status);
  MART_CODEC_CUDA_CHECK(cudaGetLastError());
}

void check_decode_status(const int* d_status, cudaStream_t stream) {
  int v = 0;
  MART_CODEC_CUDA_CHECK(cudaMemcpyAsync(&v, d_status, sizeof v, cudaMemcpyDeviceToHost, stream));
  MART_CODEC_CUDA_CHECK(cudaStreamSynchronize(stream));
  MART_CHECK(v != 1,
             "codec cuda decode: the header does not match (bad magic/version, or n "
             "differs from the encoded n)");
  MART_CHECK(v != 2, "codec cuda decode: corrupt block metadata (width/flags/offsets)");
  MART_CHECK(v == 0, "codec cuda decode: unknown status ", v);
}

}  // namespace mart::codec::cuda
