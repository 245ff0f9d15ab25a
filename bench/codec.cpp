// bench_codec: throughput and compression ratio of the activation codec (kernels/codec.h) on
// activation-like data: N(0,1), GELU outputs, post-LayerNorm rows with a few outlier channels,
// at eb = {1e-3, 1e-2, 1e-1} x std. CPU encode/decode GB/s (fp32 input bytes / median time of
// the reps); with CUDA and a device, the GPU too (and a byte-for-byte check against the CPU).
// Usage: bench_codec [n (default 8388608)] [reps (default 7)]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include <omp.h>

#include "kernels/codec.h"
#ifdef MART_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "cuda/codec_cuda.h"
#endif

namespace {

using namespace mart;

struct Dataset {
  std::string name;
  std::vector<float> x;
  double std = 0;
};

double stddev(const std::vector<float>& x) {
  double s = 0, s2 = 0;
  for (float v : x) s += v, s2 += static_cast<double>(v) * v;
  const double m = s / x.size();
  return std::sqrt(std::max(0.0, s2 / x.size() - m * m));
}

std::vector<Dataset> make_data(size_t n) {
  std::mt19937_64 rng(123);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<Dataset> ds(3);
  ds[0].name = "normal";
  ds[1].name = "gelu";
  ds[2].name = "layernorm";
  for (auto& d : ds) d.x.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const float z = nd(rng);
    ds[0].x[i] = z;
    ds[1].x[i] = 0.5f * z * (1.0f + std::tanh(0.7978845608f * (z + 0.044715f * z * z * z)));
  }
  // Rows of C = 768: normalised, then gamma ~ 1 +- 0.1, beta ~ +-0.02, 6 outlier channels x 20.
  const size_t C = 768;
  std::vector<float> gamma(C), beta(C);
  for (size_t c = 0; c < C; ++c) {
    gamma[c] = 1.0f + 0.1f * nd(rng);
    beta[c] = 0.02f * nd(rng);
  }
  for (size_t c : {7u, 100u, 333u, 512u, 600u, 701u}) gamma[c] *= 20.0f;
  for (size_t r = 0; r * C < n; ++r) {
    const size_t len = std::min(C, n - r * C);
    double m = 0, v = 0;
    std::vector<float> row(len);
    for (auto& e : row) e = nd(rng) * 2.0f + 0.5f, m += e;
    m /= len;
    for (float e : row) v += (e - m) * (e - m);
    const float rstd = static_cast<float>(1.0 / std::sqrt(v / len + 1e-5));
    for (size_t c = 0; c < len; ++c)
      ds[2].x[r * C + c] = (row[c] - static_cast<float>(m)) * rstd * gamma[c] + beta[c];
  }
  for (auto& d : ds) d.std = stddev(d.x);
  return ds;
}

double process_cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

struct Timing {
  double wall = 0;  // median wall-clock seconds
  double cpu = 0;   // median process CPU seconds (all threads): robust to a loaded machine
};

template <class F>
Timing median_times(int reps, F&& f) {
  std::vector<double> w, c;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = process_cpu_seconds();
    f();
    c.push_back(process_cpu_seconds() - c0);
    w.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(w.begin(), w.end());
  std::sort(c.begin(), c.end());
  return {w[w.size() / 2], c[c.size() / 2]};
}

#ifdef MART_HAVE_CUDA
#define BENCH_CUDA(expr)                                                      \
  do {                                                                        \
    const cudaError_t e_ = (expr);                                            \
    if (e_ != cudaSuccess) {                                                  \
      std::fprintf(stderr, "%s failed: %s\n", #expr, cudaGetErrorString(e_)); \
      std::exit(1);                                                           \
    }                                                                         \
  } while (0)

// GPU encode/decode GB/s (CUDA events, median of reps) and a byte check against `cpu`.
void bench_gpu(const std::vector<float>& x, float eb, const std::vector<uint8_t>& cpu, int reps) {
  const size_t n = x.size();
  float *d_x = nullptr, *d_y = nullptr;
  uint8_t* d_out = nullptr;
  uint64_t* d_size = nullptr;
  void* ws = nullptr;
  const size_t ws_bytes = codec::cuda::encode_workspace_bytes(n);
  BENCH_CUDA(cudaMalloc(reinterpret_cast<void**>(&d_x), 4 * n));
  BENCH_CUDA(cudaMalloc(reinterpret_cast<void**>(&d_y), 4 * n));
  BENCH_CUDA(cudaMalloc(reinterpret_cast<void**>(&d_out), codec::max_encoded_bytes(n)));
  BENCH_CUDA(cudaMalloc(reinterpret_cast<void**>(&d_size), 8));
  BENCH_CUDA(cudaMalloc(&ws, std::max<size_t>(ws_bytes, 1)));
  BENCH_CUDA(cudaMemcpy(d_x, x.data(), 4 * n, cudaMemcpyHostToDevice));
  cudaStream_t st;
  BENCH_CUDA(cudaStreamCreate(&st));
  cudaEvent_t a, b;
  BENCH_CUDA(cudaEventCreate(&a));
  BENCH_CUDA(cudaEventCreate(&b));
  auto timed = [&](auto&& f) {
    std::vector<float> ms;
    f();  // warm-up
    for (int r = 0; r < reps; ++r) {
      BENCH_CUDA(cudaEventRecord(a, st));
      f();
      BENCH_CUDA(cudaEventRecord(b, st));
      BENCH_CUDA(cudaEventSynchronize(b));
      float t = 0;
      BENCH_CUDA(cudaEventElapsedTime(&t, a, b));
      ms.push_back(t);
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2] * 1e-3;
  };
  const double te =
      timed([&] { codec::cuda::encode(d_x, n, eb, d_out, d_size, ws, ws_bytes, st); });
  const size_t bytes = codec::cuda::read_encoded_bytes(d_size, st);
  std::vector<uint8_t> gpu(bytes);
  BENCH_CUDA(cudaMemcpy(gpu.data(), d_out, bytes, cudaMemcpyDeviceToHost));
  const double td = timed([&] { codec::cuda::decode(d_out, n, d_y, nullptr, st); });
  std::printf("    gpu: encode %7.1f GB/s  decode %7.1f GB/s  bytes %s CPU\n", 4e-9 * n / te,
              4e-9 * n / td, gpu == cpu ? "==" : "!=");
  cudaFree(d_x), cudaFree(d_y), cudaFree(d_out), cudaFree(d_size), cudaFree(ws);
  cudaEventDestroy(a), cudaEventDestroy(b), cudaStreamDestroy(st);
}
#endif

}  // namespace

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : (size_t{1} << 23);
  const int reps = argc > 2 ? std::atoi(argv[2]) : 7;
  [[maybe_unused]] bool gpu = false;
#ifdef MART_HAVE_CUDA
  int devices = 0;
  const cudaError_t e = cudaGetDeviceCount(&devices);
  gpu = e == cudaSuccess && devices > 0;
  if (!gpu)
    std::printf("GPU: skipped (no CUDA device: %s)\n",
                e != cudaSuccess ? cudaGetErrorString(e) : "cudaGetDeviceCount found 0");
#else
  std::printf("GPU: skipped (built without CUDA)\n");
#endif
  std::printf("n = %zu fp32 values (%.1f MB), median of %d reps, %d OpenMP threads\n", n, 4e-6 * n,
              reps, omp_get_max_threads());
  std::printf(
      "GB/s: fp32 input bytes / median wall time; GB/cpu-s: per second of process CPU time\n");
  std::printf("%-10s %7s %10s %6s %8s %5s %6s %8s %8s %10s %10s\n", "data", "eb/std", "eb", "ratio",
              "bits/val", "raw%", "half%", "enc GB/s", "dec GB/s", "enc GB/cpu-s", "dec GB/cpu-s");
  std::vector<uint8_t> out(codec::max_encoded_bytes(n));
  std::vector<float> y(n);
  for (const auto& d : make_data(n)) {
    for (double rel : {1e-3, 1e-2, 1e-1}) {
      const float eb = static_cast<float>(rel * d.std);
      size_t bytes = 0;
      const Timing te =
          median_times(reps, [&] { bytes = codec::encode(d.x.data(), n, eb, out.data()); });
      const Timing td = median_times(reps, [&] { codec::decode(out.data(), bytes, y.data()); });
      const codec::Stats s = codec::stats(out.data(), bytes);
      double max_err = 0;
      for (size_t i = 0; i < n; ++i) max_err = std::max(max_err, std::fabs(double(d.x[i]) - y[i]));
      std::printf("%-10s %7.0e %10.3e %6.2f %8.2f %5.2f %6.2f %8.2f %8.2f %10.2f %10.2f%s\n",
                  d.name.c_str(), rel, eb, s.ratio, s.bits_per_value,
                  100.0 * s.raw_blocks / s.blocks, 100.0 * s.half_step_blocks / s.blocks,
                  4e-9 * n / te.wall, 4e-9 * n / td.wall, 4e-9 * n / te.cpu, 4e-9 * n / td.cpu,
                  max_err <= eb ? "" : "  BOUND VIOLATED");
#ifdef MART_HAVE_CUDA
      if (gpu) bench_gpu(d.x, eb, std::vector<uint8_t>(out.begin(), out.begin() + bytes), reps);
#endif
    }
  }
  return 0;
}
