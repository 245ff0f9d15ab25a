// Default bodies of the decoding ops (kernels/ops.h): a backend that does not implement them
// refuses with a message naming itself and the op, instead of computing something wrong.
#include "common/error.h"
#include "kernels/ops.h"

namespace mart {
namespace {
[[noreturn]] void unsupported(const Ops& ops, const char* op) {
  MART_FAIL("the '", ops.name(), "' ops do not implement ", op,
            " (needed for generation); run generation on the cpu or cuda backend");
}
}  // namespace

void Ops::attention_decode(void*, const void*, void*, void*, int, int, int, int, int, int, int) {
  unsupported(*this, "attention_decode");
}
void Ops::rope_forward_at(void*, const void*, int, int, int, int, int, int, float) {
  unsupported(*this, "rope_forward_at");
}
void Ops::logits_forward(float*, const void*, const void*, int, int, int) {
  unsupported(*this, "logits_forward");
}

}  // namespace mart
