// Activation conversion on the device (cuda/act_convert.cu), used by the activation
// manager: a compressed bf16 body is decoded to fp32 by the codec, then rounded to bf16 in place.
// Only built with CUDA (MART_HAVE_CUDA).
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace mart::detail {

// dst[i] = bf16 round-to-nearest-even of src[i] (NaN stays NaN), i in [0, n), on `stream`.
// src: [n] fp32, dst: [n] bf16 bits; both device memory. Throws mart::Error on a failed launch.
void act_f32_to_bf16(const float* src, uint16_t* dst, size_t n, cudaStream_t stream);

}  // namespace mart::detail
