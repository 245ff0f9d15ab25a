// Element types of tensors in memory and in files.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace mart {

// U8 and BOOL (one byte each) occur only in files: attention-mask buffers that Hugging Face
// GPT-2 checkpoints carry (attn.bias, attn.masked_bias); MART reads past them, never computes in
// them.
enum class DType : uint8_t { F32, BF16, F16, I32, U16, U32, F64, U8, BOOL };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32:
      return 4;
    case DType::BF16:
      return 2;
    case DType::F16:
      return 2;
    case DType::I32:
      return 4;
    case DType::U16:
      return 2;
    case DType::U32:
      return 4;
    case DType::F64:
      return 8;
    case DType::U8:
    case DType::BOOL:
      return 1;
  }
  return 0;
}

// Names as safetensors writes them ("F32", "BF16", ...).
std::string_view dtype_name(DType t);
// Throws mart::Error naming the unknown string.
DType dtype_from_name(std::string_view name);

// bf16 <-> fp32, round-to-nearest-even; NaN stays NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
inline float bf16_to_f32(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace mart
