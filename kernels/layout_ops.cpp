#include "kernels/layout_ops.h"

#include <algorithm>

#include "common/error.h"

namespace mart {

size_t cuda_classifier_workspace_bytes(int N, int V) {
  if (N <= 0 || V <= 0) return 0;
  const size_t vp = (static_cast<size_t>(V) + 63) / 64 * 64;  // padded_vocab
  const size_t by_budget = (size_t{256} << 20) / (vp * 2);    // kChunkBudget / (Vp * bf16)
  const size_t rows =
      std::min(std::max<size_t>(128, by_budget / 128 * 128), static_cast<size_t>(std::max(N, 1)));
  return (rows * vp * 2 + 255) / 256 * 256;
}

namespace {

class CudaLayoutOps final : public Ops {
 public:
  DType act_dtype() const override { return DType::BF16; }
  const char* name() const override { return "cuda-layout"; }
  size_t classifier_workspace_bytes(int N, int V) const override {
    return cuda_classifier_workspace_bytes(N, V);
  }
  [[noreturn]] static void no() {
    MART_FAIL("layout-only CUDA ops cannot compute (they exist for planning without a GPU)");
  }
  void embedding_forward(void*, const int32_t*, const void*, const void*, int, int, int) override {
    no();
  }
  void embedding_backward(void*, void*, const void*, const int32_t*, int, int, int) override {
    no();
  }
  void layernorm_forward(void*, float*, float*, const void*, const void*, const void*, int, int,
                         float) override {
    no();
  }
  void layernorm_backward(void*, void*, void*, const void*, const void*, const void*, const float*,
                          const float*, int, int) override {
    no();
  }
  void rmsnorm_forward(void*, float*, const void*, const void*, int, int, float) override { no(); }
  void rmsnorm_backward(void*, void*, const void*, const void*, const void*, const float*, int,
                        int) override {
    no();
  }
  void matmul_forward(void*, void*, const void*, const void*, const void*, int, int, int) override {
    no();
  }
  void matmul_backward(void*, void*, void*, const void*, const void*, const void*, int, int,
                       int) override {
    no();
  }
  void attention_forward(void*, float*, const void*, int, int, int, int, int) override { no(); }
  void attention_backward(void*, const void*, const void*, const void*, const float*, int, int, int,
                          int, int) override {
    no();
  }
  void rope_forward(void*, const void*, int, int, int, int, int, float) override { no(); }
  void rope_backward(void*, const void*, int, int, int, int, int, float) override { no(); }
  void gelu_forward(void*, const void*, size_t) override { no(); }
  void gelu_backward(void*, const void*, const void*, size_t) override { no(); }
  void swiglu_forward(void*, const void*, int, int) override { no(); }
  void swiglu_backward(void*, const void*, const void*, int, int) override { no(); }
  void add(void*, const void*, const void*, size_t) override { no(); }
  void classifier_forward_backward(float*, void*, void*, const void*, const void*, const int32_t*,
                                   int, int, int, float, void*) override {
    no();
  }
  void adamw_update(void*, float*, const void*, float*, float*, size_t, const AdamWHyper&,
                    uint64_t) override {
    no();
  }
  void sumsq(float*, const void*, size_t) override { no(); }
  void scale(void*, float, size_t) override { no(); }
};

}  // namespace

std::unique_ptr<Ops> make_cuda_layout_ops() {
  return std::make_unique<CudaLayoutOps>();
}

}  // namespace mart
