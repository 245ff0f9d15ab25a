// CUDA activation codec (cuda/codec_cuda.cu): the format of kernels/codec.h, encoded and
// decoded on the device, byte-identical to the CPU codec (same per-value arithmetic,
// kernels/codec_math.h). Only built with CUDA (MART_HAVE_CUDA).
//
// encode is stream-ordered and never synchronises the host: (1) one thread block per codec block
// computes base, width, flags and the block's payload size, (2) a device prefix sum (cub) turns
// sizes into offsets, (3) a one-thread kernel writes the header and the total size to
// *d_encoded_bytes, (4) one thread block per codec block re-derives its codes and packs them.
// The total size stays on the device; read_encoded_bytes() is the (synchronising) host readback.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace mart::codec::cuda {

// Device scratch that encode needs for n values (block sizes + the scan's temporary storage).
size_t encode_workspace_bytes(size_t n);

// Encodes d_x[0, n) (device memory) with bound eb into d_out (device, 8-byte aligned,
// max_encoded_bytes(n) bytes) and writes the encoding's size to *d_encoded_bytes (device).
// d_workspace: encode_workspace_bytes(n) bytes of device memory (256-byte aligned, as cudaMalloc
// returns), or null to have encode allocate and free it stream-ordered (cudaMallocAsync).
// Throws mart::Error for bad arguments or a failed launch; asynchronous otherwise.
void encode(const float* d_x, size_t n, float eb, uint8_t* d_out, uint64_t* d_encoded_bytes,
            void* d_workspace, size_t workspace_bytes, cudaStream_t stream);
// bf16 input (raw bits, e.g. __nv_bfloat16 storage); same encoding as codec::encode_bf16.
void encode_bf16(const uint16_t* d_x, size_t n, float eb, uint8_t* d_out, uint64_t* d_encoded_bytes,
                 void* d_workspace, size_t workspace_bytes, cudaStream_t stream);

// Copies *d_encoded_bytes to the host; synchronises `stream`.
size_t read_encoded_bytes(const uint64_t* d_encoded_bytes, cudaStream_t stream);

// Decodes an encoding of n values (device memory, 8-byte aligned) into d_x (n floats). The
// kernel checks the header (magic, version, n) and each block's metadata; on a mismatch it writes
// nothing for the affected blocks and, if d_status is non-null, sets *d_status to a nonzero code
// (1: header, 2: block metadata); *d_status is left untouched when all is well (zero it first).
// Use the CPU codec::validate for a full check with a message.
void decode(const uint8_t* d_in, size_t n, float* d_x, int* d_status, cudaStream_t stream);

// Reads *d_status (synchronises `stream`) and throws mart::Error describing a nonzero status.
void check_decode_status(const int* d_status, cudaStream_t stream);

}  // namespace mart::codec::cuda
