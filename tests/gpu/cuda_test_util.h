// Shared helpers for the GPU tests: a fixture that owns one CUDA device + CudaOps (and skips every
// test with cuda_unavailable_reason() when there is no usable GPU), device buffers, bf16 host
// data, NaN poisoning and tolerance checks.
//
// Every op test: random inputs rounded to bf16 (so the CPU reference sees exactly the values the
// GPU sees), outputs poisoned with 0xFF bytes first (NaN in bf16 and fp32, so an element the op
// fails to write fails the comparison), reference from the fp32 CPU kernels in
// kernels/cpu/cpu_kernels.h.
#pragma once
#ifdef MART_HAVE_CUDA
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/dtype.h"
#include "cuda/cuda_ops.h"
#include "device/device.h"
#include "kernels/ops.h"

namespace mart::cudatest {

#define MT_CUDA(call)                                                          \
  do {                                                                         \
    const cudaError_t e_ = (call);                                             \
    ASSERT_EQ(e_, cudaSuccess) << #call << ": " << cudaGetErrorName(e_) << " " \
                               << cudaGetErrorString(e_);                      \
  } while (0)

// A cudaMalloc'd buffer (tests allocate outside the arena on purpose: simplest ownership).
class DevBuf {
 public:
  DevBuf() = default;
  explicit DevBuf(size_t bytes) : bytes_(bytes) {
    if (bytes && cudaMalloc(&p_, bytes) != cudaSuccess) p_ = nullptr;
  }
  ~DevBuf() {
    if (p_) cudaFree(p_);
  }
  DevBuf(DevBuf&& o) noexcept : p_(o.p_), bytes_(o.bytes_) { o.p_ = nullptr; }
  DevBuf& operator=(DevBuf&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  void* get() const { return p_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(p_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* p_ = nullptr;
  size_t bytes_ = 0;
};

// Uniform values in [lo, hi), rounded to bf16.
inline std::vector<float> rand_bf16(size_t n, float lo, float hi, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = bf16_to_f32(f32_to_bf16(u(rng)));
  return v;
}
inline std::vector<float> rand_f32(size_t n, float lo, float hi, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}
inline float round_bf16(float x) {
  return bf16_to_f32(f32_to_bf16(x));
}

inline DevBuf upload_bf16(const std::vector<float>& v) {
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); i++) h[i] = f32_to_bf16(v[i]);
  DevBuf d(h.size() * 2);
  cudaMemcpy(d.get(), h.data(), h.size() * 2, cudaMemcpyHostToDevice);
  return d;
}
template <class T>
inline DevBuf upload(const std::vector<T>& v) {
  DevBuf d(v.size() * sizeof(T));
  cudaMemcpy(d.get(), v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice);
  return d;
}
// 0xFF bytes: NaN as bf16 and as fp32.
inline DevBuf poisoned(size_t bytes) {
  DevBuf d(bytes);
  cudaMemset(d.get(), 0xff, bytes);
  return d;
}
inline std::vector<float> download_bf16(const void* p, size_t n) {
  std::vector<uint16_t> h(n);
  cudaMemcpy(h.data(), p, n * 2, cudaMemcpyDeviceToHost);
  std::vector<float> v(n);
  for (size_t i = 0; i < n; i++) v[i] = bf16_to_f32(h[i]);
  return v;
}
inline std::vector<uint16_t> download_raw_bf16(const void* p, size_t n) {
  std::vector<uint16_t> h(n);
  cudaMemcpy(h.data(), p, n * 2, cudaMemcpyDeviceToHost);
  return h;
}
inline std::vector<float> download_f32(const void* p, size_t n) {
  std::vector<float> v(n);
  cudaMemcpy(v.data(), p, n * 4, cudaMemcpyDeviceToHost);
  return v;
}

// Passes when |got - ref| <= atol + rtol * |ref| for every element, with atol = atol_frac *
// max|ref| (errors judged against the tensor's own scale, which is what matters for sums that
// cancel). NaN anywhere fails (poisoned outputs the op did not write).
inline ::testing::AssertionResult close(const char* what, const std::vector<float>& got,
                                        const std::vector<float>& ref, double rtol,
                                        double atol_frac) {
  if (got.size() != ref.size())
    return ::testing::AssertionFailure() << what << ": size " << got.size() << " vs " << ref.size();
  double scale = 0.0;
  for (float r : ref) scale = std::max(scale, double(std::fabs(r)));
  const double atol = atol_frac * std::max(scale, 1e-30);
  size_t bad = 0, first = 0;
  double worst = 0.0;
  size_t worst_i = 0;
  for (size_t i = 0; i < got.size(); i++) {
    const double g = got[i], r = ref[i];
    const double err = std::fabs(g - r);
    const bool ok = std::isfinite(g) && err <= atol + rtol * std::fabs(r);
    if (!ok) {
      if (bad == 0) first = i;
      bad++;
    }
    if (!(err <= worst)) {  // also catches NaN
      worst = std::isfinite(err) ? err : INFINITY;
      worst_i = i;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << what << ": " << bad << " of " << got.size() << " elements out of tolerance (rtol "
         << rtol << ", atol " << atol << " = " << atol_frac << " x max|ref| " << scale
         << "); first bad [" << first << "] got " << got[first] << " ref " << ref[first]
         << "; worst [" << worst_i << "] got " << got[worst_i] << " ref " << ref[worst_i];
}

// One CUDA device and CudaOps for the whole test binary; every test skips without a GPU.
class CudaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    reason() = cuda_unavailable_reason();
    if (!reason().empty() || dev()) return;
    dev() = make_cuda_device(0);
    ops() = make_cuda_ops(*dev());
  }
  void SetUp() override {
    if (!reason().empty()) GTEST_SKIP() << "no usable GPU: " << reason();
  }
  static void sync() { dev()->synchronize(); }
  static std::string& reason() {
    static std::string r;
    return r;
  }
  static std::unique_ptr<Device>& dev() {
    static std::unique_ptr<Device> d;
    return d;
  }
  static std::unique_ptr<Ops>& ops() {
    static std::unique_ptr<Ops> o;
    return o;
  }
  // Extra CudaOps on the same device, made with one environment variable set: index 0 with
  // MART_ATTENTION=fallback (always MART's own attention kernels), index 1 with
  // MART_CUDNN_DETERMINISTIC=1 (cuDNN's deterministic attention backward).
  static std::unique_ptr<Ops>& extra_slot(int i) {
    static std::unique_ptr<Ops> o[2];
    return o[i];
  }
  static Ops& extra_ops(int i) {
    static const char* const kVar[2][2] = {{"MART_ATTENTION", "fallback"},
                                           {"MART_CUDNN_DETERMINISTIC", "1"}};
    auto& f = extra_slot(i);
    if (!f) {
      setenv(kVar[i][0], kVar[i][1], 1);
      f = make_cuda_ops(*dev());
      unsetenv(kVar[i][0]);
    }
    return *f;
  }
  static Ops& fallback_ops() { return extra_ops(0); }
  static Ops& deterministic_ops() { return extra_ops(1); }
};

}  // namespace mart::cudatest
#endif  // MART_HAVE_CUDA
