// The CUDA codec against the CPU codec: encodings byte for byte, decodes bit for bit.
// Skips (GTEST_SKIP) when no CUDA device is present.
#include <cuda_runtime_api.h>

#include <cfloat>
#include <limits>
#include <string>

#include "codec_test_util.h"
#include "common/dtype.h"
#include "cuda/codec_cuda.h"

namespace mart::codec::test {
namespace {

#define CUDA_OK(expr) ASSERT_EQ((expr), cudaSuccess) << #expr

class CodecCuda : public ::testing::Test {
 protected:
  void SetUp() override {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0)
      GTEST_SKIP() << "no CUDA device: "
                   << (e != cudaSuccess ? cudaGetErrorString(e) : "cudaGetDeviceCount found 0");
    ASSERT_EQ(cudaStreamCreate(&stream_), cudaSuccess);
  }
  void TearDown() override {
    if (stream_) cudaStreamDestroy(stream_);
  }

  template <class T>
  T* to_device(const std::vector<T>& v) {
    T* d = nullptr;
    EXPECT_EQ(cudaMalloc(&d, std::max<size_t>(1, v.size()) * sizeof(T)), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(d, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
    return d;
  }

  // GPU encoding of d_x (float or bf16 bits), copied back to the host.
  template <class T>
  std::vector<uint8_t> gpu_encode(const T* d_x, size_t n, float eb, bool own_workspace) {
    uint8_t* d_out = nullptr;
    uint64_t* d_size = nullptr;
    void* ws = nullptr;
    const size_t ws_bytes = cuda::encode_workspace_bytes(n);
    EXPECT_EQ(cudaMalloc(&d_out, max_encoded_bytes(n)), cudaSuccess);
    EXPECT_EQ(cudaMalloc(&d_size, 8), cudaSuccess);
    if (own_workspace && ws_bytes) EXPECT_EQ(cudaMalloc(&ws, ws_bytes), cudaSuccess);
    if constexpr (sizeof(T) == 4)
      cuda::encode(d_x, n, eb, d_out, d_size, ws, ws_bytes, stream_);
    else
      cuda::encode_bf16(d_x, n, eb, d_out, d_size, ws, ws_bytes, stream_);
    std::vector<uint8_t> out(cuda::read_encoded_bytes(d_size, stream_));
    EXPECT_EQ(cudaMemcpy(out.data(), d_out, out.size(), cudaMemcpyDeviceToHost), cudaSuccess);
    cudaFree(d_out);
    cudaFree(d_size);
    cudaFree(ws);
    return out;
  }

  std::vector<float> gpu_decode(const std::vector<uint8_t>& enc, size_t n, int* status_out) {
    uint8_t* d_in = to_device(enc);
    float* d_x = nullptr;
    int* d_status = nullptr;
    EXPECT_EQ(cudaMalloc(&d_x, std::max<size_t>(1, n) * 4), cudaSuccess);
    EXPECT_EQ(cudaMalloc(&d_status, 4), cudaSuccess);
    EXPECT_EQ(cudaMemset(d_status, 0, 4), cudaSuccess);
    EXPECT_EQ(cudaMemset(d_x, 0, std::max<size_t>(1, n) * 4), cudaSuccess);
    cuda::decode(d_in, n, d_x, d_status, stream_);
    EXPECT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
    std::vector<float> y(n);
    EXPECT_EQ(cudaMemcpy(y.data(), d_x, n * 4, cudaMemcpyDeviceToHost), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(status_out, d_status, 4, cudaMemcpyDeviceToHost), cudaSuccess);
    cudaFree(d_in);
    cudaFree(d_x);
    cudaFree(d_status);
    return y;
  }

  // CPU vs GPU: identical encodings, bitwise identical decodes (both ways).
  void compare(const std::vector<float>& x, float eb, bool own_workspace = false) {
    SCOPED_TRACE(testing::Message() << "n " << x.size() << " eb " << eb);
    const std::vector<uint8_t> cpu = expect_roundtrip(x, eb);
    float* d_x = to_device(x);
    const std::vector<uint8_t> gpu = gpu_encode(d_x, x.size(), eb, own_workspace);
    cudaFree(d_x);
    ASSERT_EQ(gpu.size(), cpu.size());
    size_t first_diff = cpu.size();
    for (size_t i = 0; i < cpu.size() && first_diff == cpu.size(); ++i)
      if (cpu[i] != gpu[i]) first_diff = i;
    EXPECT_EQ(first_diff, cpu.size())
        << "first differing byte (payload at " << layout(x.size()).payload << ")";
    const std::vector<float> ycpu = decode_vec(cpu);
    int status = -1;
    const std::vector<float> ygpu = gpu_decode(gpu, x.size(), &status);
    EXPECT_EQ(status, 0);
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_EQ(bits(ycpu[i]), bits(ygpu[i])) << "value " << i << " x " << x[i];
  }

  cudaStream_t stream_ = nullptr;
};

TEST_F(CodecCuda, NormalsAtManyScalesAndBounds) {
  uint64_t seed = 1;
  for (float scale : {1e-38f, 1e-6f, 1.0f, 1e4f, 1e30f})
    for (float rel : {1e-7f, 1e-3f, 1e-2f, 1e-1f, 3.0f})
      compare(normals(70001, 0.3f * scale, scale, seed++), rel * scale);
}

TEST_F(CodecCuda, AdversarialInputs) {
  std::vector<float> ties, denorm, special, huge, zeros;
  for (int k = 0; k < 3000; ++k) ties.push_back(static_cast<float>(-1 + (k + 0.5) * 0.02));
  for (int i = 0; i < 3000; ++i)
    denorm.push_back(from_bits(static_cast<uint32_t>(i * 2797 % 0x7fffff)));
  special = normals(4000, 0.0f, 1.0f, 3);
  special[3] = std::numeric_limits<float>::quiet_NaN();
  special[900] = from_bits(0xffc12345u);
  special[2000] = std::numeric_limits<float>::infinity();
  special[3999] = -std::numeric_limits<float>::infinity();
  for (int i = 0; i < 1000; ++i) huge.push_back(i % 2 ? FLT_MAX : -1e30f * i);
  for (int i = 0; i < 1000; ++i) zeros.push_back(i % 3 ? -0.0f : (i % 5 ? 0.0f : 1e-3f));
  for (float eb : {0.01f, 0.0078125f, 1e-4f}) compare(ties, eb);
  for (float eb : {1e-45f, 1e-40f, 1e-38f, 1.0f}) compare(denorm, eb);
  compare(special, 1e-2f);
  compare(huge, 1e-3f);
  for (float eb : {1e-45f, 1e-4f, 0.5f}) compare(zeros, eb);
  compare(std::vector<float>(5000, 2.5f), 1e-3f);
  // Half-step and raw-fallback blocks (eb near the fp32 resolution of the data).
  for (float eb : {3e-7f, 5e-7f, 2e-6f, 3e-5f}) compare(integer_made_data(20000), eb);
  compare(std::vector<float>(700, -0.0f), 1e-3f);
}

TEST_F(CodecCuda, Lengths) {
  for (size_t n : {0u, 1u, 2u, 255u, 256u, 257u, 4097u, (1u << 20) + 3u})
    compare(normals(n, 0.0f, 1.0f, n), 1e-2f, n % 2 == 1);
}

TEST_F(CodecCuda, Bf16Input) {
  const auto x = normals(50000, 0.0f, 3.0f, 9);
  std::vector<uint16_t> h(x.size());
  for (size_t i = 0; i < x.size(); ++i) h[i] = f32_to_bf16(x[i]);
  h[10] = 0xff80;  // -Inf
  std::vector<uint8_t> cpu(max_encoded_bytes(h.size()));
  cpu.resize(encode_bf16(h.data(), h.size(), 1e-2f, cpu.data()));
  uint16_t* d_h = to_device(h);
  const auto gpu = gpu_encode(d_h, h.size(), 1e-2f, true);
  cudaFree(d_h);
  EXPECT_EQ(gpu, cpu);
}

TEST_F(CodecCuda, DecodeReportsAMismatchedHeader) {
  const auto enc = encode_vec(normals(1000, 0.0f, 1.0f, 4), 1e-2f);
  int status = 0;
  gpu_decode(enc, 999, &status);  // wrong n
  EXPECT_EQ(status, 1);
  auto bad = enc;
  bad[layout(1000).widths + 2] = 40;
  gpu_decode(bad, 1000, &status);
  EXPECT_EQ(status, 2);
  int* d_status = nullptr;
  ASSERT_EQ(cudaMalloc(&d_status, 4), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(d_status, &status, 4, cudaMemcpyHostToDevice), cudaSuccess);
  EXPECT_THROW(cuda::check_decode_status(d_status, stream_), Error);
  cudaFree(d_status);
}

}  // namespace
}  // namespace mart::codec::test
