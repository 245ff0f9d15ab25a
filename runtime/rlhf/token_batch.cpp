#include "runtime/rlhf/token_batch.h"

#include "common/error.h"

namespace mart::rlhf {

void check_size(const char* what, int64_t size, TokenShape shape) {
  MART_CHECK(shape.batch >= 0 && shape.time >= 0, "RLHF batch shape [", shape.batch, ", ",
             shape.time, "] has a negative dimension");
  MART_CHECK(size == shape.size(), what, " has ", size, " elements but the batch is [", shape.batch,
             ", ", shape.time, "] = ", shape.size(),
             "; pass row-major [B, T] arrays of the same shape");
}

void check_mask(std::span<const uint8_t> mask, TokenShape shape) {
  check_size("response mask", static_cast<int64_t>(mask.size()), shape);
  for (size_t i = 0; i < mask.size(); ++i) {
    MART_CHECK(mask[i] <= 1, "response mask entry ", i, " (row ", i / shape.time, ", position ",
               i % shape.time, ") is ", int(mask[i]), "; a mask holds 0 or 1");
  }
}

void check_prefix_mask(std::span<const uint8_t> mask, TokenShape shape) {
  check_mask(mask, shape);
  for (int64_t b = 0; b < shape.batch; ++b) {
    const uint8_t* row = mask.data() + b * shape.time;
    for (int64_t t = 1; t < shape.time; ++t) {
      MART_CHECK(!(row[t] == 1 && row[t - 1] == 0), "response mask row ", b,
                 " has a 1 at position ", t,
                 " after a 0; a response mask is 1 through the last generated token, then 0");
    }
  }
}

int64_t masked_length(std::span<const uint8_t> mask, TokenShape shape, int64_t b) {
  int64_t n = 0;
  for (int64_t t = 0; t < shape.time; ++t) n += mask[b * shape.time + t];
  return n;
}

int64_t masked_count(std::span<const uint8_t> mask) {
  int64_t n = 0;
  for (uint8_t m : mask) n += m;
  return n;
}

}  // namespace mart::rlhf
