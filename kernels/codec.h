// Error-bounded lossy activation codec (COMET-style; docs/DESIGN.md §3), CPU side and format.
// Every finite input value x is reconstructed as x' with |x - x'| <= eb (absolute, exact real
// arithmetic on the fp32 values). The CPU encoder (kernels/cpu/codec_cpu.cpp) and the CUDA encoder
// (cuda/codec_cuda.cu, API in cuda/codec_cuda.h) produce byte-identical encodings: both
// run the per-value arithmetic of kernels/codec_math.h, where every fp32 operation is spelled out
// (round-to-nearest-even, no FMA contraction). The proof of the bound sits next to that code.
//
// ---- Format, version 1 (all integers and floats little-endian) ----------------------------------
// Values are split into blocks of kBlock = 256 (the last block may be partial: count = n - 256*b).
//   [0, 48)           header
//       u32 magic        'M','C','D','C' (0x4344434D)
//       u16 version      1
//       u16 header_bytes 48
//       u32 block_size   256
//       u32 flags        bit 0: the source was bf16 (values are the exact fp32 value of each bf16)
//       u64 n            number of values
//       f32 eb           absolute error bound (finite, > 0)
//       u32 nblocks      ceil(n / 256)
//       u64 payload_bytes
//       u64 total_bytes  = payload_offset + payload_bytes (the size encode returns)
//   offsets  u64[nblocks + 1]  byte offset of each block's payload inside the payload region:
//                              offsets[0] = 0, offsets[b+1] = offsets[b] + block_bytes(b), so
//                              every block decodes independently (in parallel).
//   bases    f32[nblocks]      block base (minimum, see below); 0.0f for raw blocks
//   widths   u8[nblocks]       bits per code: 0..31 coded, 32 raw
//   bflags   u8[nblocks]       kRaw | kNonFinite | kFallback | kHalfStep (below)
//   (zero padding to a multiple of 8 bytes)
//   payload  the blocks' packed codes, each block a whole number of u32 words:
//            block_bytes(b) = 4 * ceil(count * width / 32). Code i of a block occupies bits
//            [i*w, (i+1)*w) of the block's word stream, least significant bit first (code i starts
//            in word (i*w)/32 at bit (i*w)%32 and may continue into the next word).
// Region offsets are a function of n alone: see Layout.
//
// ---- Block encoding ----------------------------------------------------------------------------
//  * A block with any NaN or +-Inf is stored raw (width 32, kRaw|kNonFinite): the fp32 bit patterns
//    verbatim, so it decodes bitwise equal (NaN payloads and signs included). Lossless by policy:
//    non-finite activations are a training failure to be reported, not something to blur.
//  * Otherwise base = the minimum of the block in the total order -Inf < ... < -0 < +0 < ... (so
//    -0 is below +0 and the choice never depends on the reduction order), step s = 2*eb (fp32;
//    FLT_MAX if that overflows), and code q_i = round_half_even((x_i - base) / s) (fp32 ops),
//    adjusted to a neighbour q_i -+ 1 where rounding pushed the reconstruction just past eb.
//    The encoder computes every reconstruction exactly as the decoder will and checks the bound
//    exactly (codec_math.h). If some value of the block has no valid code with step s, the block
//    is retried with step s/2 (kHalfStep; one more bit); if that fails too (codes would need >= 31
//    bits: huge ranges with tiny eb, or eb below the fp32 resolution of the data), the block is
//    stored raw (kRaw|kFallback). So the bound is a guarantee for every finite input.
//  * width = bit length of the block's largest code; 0 for constant blocks (no payload: every
//    value decodes to base, sign of zero included).
//  * Decode: x' = (q == 0) ? base : base + float(q) * step (fp32 multiply, then fp32 add).
// Denormals are ordinary finite values (the arithmetic must run without flush-to-zero: never
// build these files with -ffast-math / --use_fast_math).
#pragma once
#include <cstddef>
#include <cstdint>

namespace mart::codec {

inline constexpr uint32_t kMagic = 0x4344434Du;  // "MCDC"
inline constexpr uint16_t kVersion = 1;
inline constexpr uint32_t kBlock = 256;
inline constexpr size_t kHeaderBytes = 48;

// Header flags.
inline constexpr uint32_t kSourceBf16 = 1u;
// Per-block flags.
inline constexpr uint8_t kRaw = 1u;        // width 32, fp32 bits verbatim
inline constexpr uint8_t kNonFinite = 2u;  // raw because the block holds NaN or Inf
inline constexpr uint8_t kFallback = 4u;   // raw because no code met the bound
inline constexpr uint8_t kHalfStep = 8u;   // coded with step s/2 instead of s

// Where each region lives, from n alone (identical on host and device).
struct Layout {
  uint64_t n = 0;
  uint64_t nblocks = 0;
  uint64_t offsets = 0;  // byte position of offsets[]
  uint64_t bases = 0;
  uint64_t widths = 0;
  uint64_t bflags = 0;
  uint64_t payload = 0;  // byte position of the payload region (multiple of 8)
  uint64_t max_total = 0;
};
constexpr uint64_t align8(uint64_t v) {
  return (v + 7) & ~uint64_t{7};
}
constexpr Layout layout(uint64_t n) {
  Layout l;
  l.n = n;
  l.nblocks = (n + kBlock - 1) / kBlock;
  l.offsets = kHeaderBytes;
  l.bases = l.offsets + 8 * (l.nblocks + 1);
  l.widths = l.bases + 4 * l.nblocks;
  l.bflags = l.widths + l.nblocks;
  l.payload = align8(l.bflags + l.nblocks);
  l.max_total = l.payload + 4 * n;  // a raw block is exactly 4 bytes per value: the worst case
  return l;
}
// Payload bytes of a block of `count` values at `width` bits.
constexpr uint64_t block_bytes(uint64_t count, uint32_t width) {
  return 4 * ((count * width + 31) / 32);
}

// The parsed header.
// The CUDA encoder's device workspace (cuda/codec_cuda.cu): u64 sizes[nblocks], then, 256-byte
// aligned, the prefix scan's temporary storage.
constexpr uint64_t cuda_sizes_region(uint64_t nblocks) {
  return (8 * nblocks + 255) & ~uint64_t{255};
}
// An upper bound of the scan's temporary storage that needs no device (cub's exact query does):
// its decoupled look-back state is <= 16 bytes per tile of >= 128 items, plus 32 padding tiles and
// 256-byte aligned sub-allocations. Dry runs (`mart plan`, which never loads CUDA) size the
// workspace with it; a process using the CUDA backend on a GPU gets the exact size.
constexpr uint64_t cuda_scan_temp_bound(uint64_t nblocks) {
  return nblocks ? 32 * (nblocks + 32) + 1024 : 0;
}
// The whole workspace for n values, bounded as above.
constexpr uint64_t cuda_encode_workspace_bound(uint64_t n) {
  const uint64_t nb = layout(n).nblocks;
  return nb ? cuda_sizes_region(nb) + cuda_scan_temp_bound(nb) : 0;
}

struct Header {
  uint64_t n = 0;
  float eb = 0;
  uint32_t flags = 0;
  uint64_t nblocks = 0;
  uint64_t payload_bytes = 0;
  uint64_t total_bytes = 0;
};

struct Stats {
  uint64_t n = 0;
  uint64_t encoded_bytes = 0;
  uint64_t source_bytes = 0;  // 4n, or 2n for a bf16 source
  double ratio = 0;           // source_bytes / encoded_bytes
  double bits_per_value = 0;  // 8 * encoded_bytes / n (header and metadata included)
  uint64_t blocks = 0, raw_blocks = 0, nonfinite_blocks = 0, fallback_blocks = 0;
  uint64_t half_step_blocks = 0, constant_blocks = 0;
};

// Upper bound on the encoding of n values (any data, any eb): size out[] with it.
size_t max_encoded_bytes(size_t n);

// Encodes x[0, n) with absolute bound eb (finite, > 0) into out (max_encoded_bytes(n) bytes, any
// alignment). Returns the bytes used. Deterministic; independent of the OpenMP thread count.
size_t encode(const float* x, size_t n, float eb, uint8_t* out);
// Same for bf16 input (raw bits, as in common/dtype.h): the bound is relative to the exact fp32
// value of each bf16, and decode yields those fp32 values within eb.
size_t encode_bf16(const uint16_t* x, size_t n, float eb, uint8_t* out);

// Validates the header and every block's metadata against in_bytes (throws mart::Error naming the
// inconsistency: short buffer, bad magic/version, corrupt offsets, ...), then writes n fp32 values.
void decode(const uint8_t* in, size_t in_bytes, float* x);
// Unsized form: trusts the header's total_bytes as the buffer size (prefer the sized form).
void decode(const uint8_t* in, float* x);

// Header only (validated against in_bytes): n, eb, sizes.
Header read_header(const uint8_t* in, size_t in_bytes);
// Full validation of the header and block metadata (what decode runs first).
Header validate(const uint8_t* in, size_t in_bytes);
// Compression statistics of a (validated) encoding.
Stats stats(const uint8_t* in, size_t in_bytes);

}  // namespace mart::codec
