// The layout every RLHF math function shares: a batch of B response sequences of T positions,
// stored row-major as flat arrays [B, T] (element (b, t) at b * T + t), and a response mask
// [B, T] of uint8 (1 = a generated token that counts, 0 = padding after EOS or the length limit).
// Values are float64; the caller owns every buffer (spans are views, nothing is kept).
#pragma once
#include <cstdint>
#include <span>

namespace mart::rlhf {

struct TokenShape {
  int64_t batch = 0;  // B: sequences
  int64_t time = 0;   // T: response positions per sequence
  int64_t size() const { return batch * time; }
};

// Throws mart::Error naming `what` unless span.size() == shape.size().
void check_size(const char* what, int64_t size, TokenShape shape);

// Throws unless every mask entry is 0 or 1 and mask.size() == shape.size().
void check_mask(std::span<const uint8_t> mask, TokenShape shape);

// check_mask, plus each row is a response mask: 1s then 0s (no 1 after a 0). Functions that walk
// a sequence backwards from its last token (per-token rewards, GAE) need this form.
void check_prefix_mask(std::span<const uint8_t> mask, TokenShape shape);

// Number of 1s in row b of the mask (the response length of sequence b).
int64_t masked_length(std::span<const uint8_t> mask, TokenShape shape, int64_t b);

// Number of 1s in the whole mask.
int64_t masked_count(std::span<const uint8_t> mask);

}  // namespace mart::rlhf
