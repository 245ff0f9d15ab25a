// bench_cpu_adam: the fused CPU AdamW (kernels/cpu/adamw_simd.h) single-threaded and on the
// CpuAdam pool at 1..nproc threads, against a STREAM-like triad on the same pool, which measures
// the memory bandwidth there is. Prints a table and one line "JSON {...}" with every number
// (bench/cpu_adam_vs_torch.sh reads it).
//
//   bench_cpu_adam [--sizes 16M,64M] [--threads 1,2] [--reps 9] [--warmup 2]
//                  [--triad-mib 512] [--json FILE]
//
// Bytes are counted per element as adamw_bytes_per_element (read g,p,m,v; write p,m,v; write the
// param copy), and 24 B per triad element (read b, c; write a) as STREAM does. Timings are medians.
#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "common/dtype.h"
#include "common/error.h"
#include "common/units.h"
#include "kernels/cpu/adamw_simd.h"
#include "kernels/cpu/cpu_adam.h"

namespace mart {
namespace {

using Clock = std::chrono::steady_clock;

// 2 MiB-aligned buffer with transparent huge pages requested (the runtime's host arena does the
// same): the pass touches 7-8 streams of 64-256 MiB each, and 4 KiB pages would add TLB misses.
template <class T>
struct Buffer {
  T* p = nullptr;
  size_t n = 0;
  explicit Buffer(size_t count) : n(count) {
    const size_t bytes =
        std::max<size_t>(((count * sizeof(T) + (2u << 20) - 1) >> 21) << 21, 2u << 20);
    p = static_cast<T*>(std::aligned_alloc(2u << 20, bytes));
    MART_CHECK(p, "bench: could not allocate ", format_bytes(bytes));
    madvise(p, bytes, MADV_HUGEPAGE);
  }
  ~Buffer() { std::free(p); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Timing {
  double median = 0, min = 0;
};

template <class F>
Timing time_reps(int warmup, int reps, F&& f) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = Clock::now();
    f();
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return {median(t), *std::min_element(t.begin(), t.end())};
}

// ---- triad
// -----------------------------------------------------------------------------------------
void triad_plain(double* a, const double* b, const double* c, double s, size_t i, size_t end) {
  for (; i < end; ++i) a[i] = b[i] + s * c[i];
}

// Non-temporal stores for a: then the 24 B counted per element are the bytes that move (no
// read-for-ownership of a), the same accounting the AdamW param copy gets.
__attribute__((target("avx2"))) void triad_nt(double* a, const double* b, const double* c, double s,
                                              size_t i, size_t end) {
  while (i < end && reinterpret_cast<uintptr_t>(a + i) % 32) {
    a[i] = b[i] + s * c[i];
    ++i;
  }
  const __m256d vs = _mm256_set1_pd(s);
  for (; i + 4 <= end; i += 4)
    _mm256_stream_pd(
        a + i, _mm256_add_pd(_mm256_loadu_pd(b + i), _mm256_mul_pd(vs, _mm256_loadu_pd(c + i))));
  for (; i < end; ++i) a[i] = b[i] + s * c[i];
  _mm_sfence();
}

__attribute__((target("avx512f"))) void triad_nt512(double* a, const double* b, const double* c,
                                                    double s, size_t i, size_t end) {
  while (i < end && reinterpret_cast<uintptr_t>(a + i) % 64) {
    a[i] = b[i] + s * c[i];
    ++i;
  }
  const __m512d vs = _mm512_set1_pd(s);
  for (; i + 8 <= end; i += 8)
    _mm512_stream_pd(
        a + i, _mm512_add_pd(_mm512_loadu_pd(b + i), _mm512_mul_pd(vs, _mm512_loadu_pd(c + i))));
  for (; i < end; ++i) a[i] = b[i] + s * c[i];
  _mm_sfence();
}

// ---- output
// ----------------------------------------------------------------------------------------
struct Row {
  std::string kind, config, mode, isa;
  size_t n = 0;
  int threads = 0;
  double seconds = 0, bytes_per_elem = 0;  // seconds: the median
  double min_seconds = 0;
  double gbps() const { return n * bytes_per_elem / seconds * 1e-9; }
  double per_s() const { return n / seconds; }
};

std::string json_row(const Row& r) {
  std::ostringstream o;
  o << "{\"kind\":\"" << r.kind << "\",\"config\":\"" << r.config << "\",\"mode\":\"" << r.mode
    << "\",\"isa\":\"" << r.isa << "\",\"n\":" << r.n << ",\"threads\":" << r.threads
    << ",\"median_s\":" << r.seconds << ",\"min_s\":" << r.min_seconds
    << ",\"bytes_per_elem\":" << r.bytes_per_elem << ",\"elems_per_s\":" << r.per_s()
    << ",\"gbps\":" << r.gbps() << "}";
  return o.str();
}

void print_row(const Row& r) {
  std::printf("%-6s %-14s %-7s %-7s %6zuM %3d thr  %9.3f ms  %8.1f Mparam/s  %6.2f GB/s\n",
              r.kind.c_str(), r.config.c_str(), r.mode.c_str(), r.isa.c_str(), r.n >> 20, r.threads,
              r.seconds * 1e3, r.per_s() * 1e-6, r.gbps());
  std::fflush(stdout);
}

void add(std::vector<Row>& rows, const Row& r) {
  print_row(r);
  rows.push_back(r);
}

std::vector<size_t> parse_list(const std::string& s, bool sizes) {
  std::vector<size_t> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (sizes) {
      // "16M" means 16 Mi elements here (parse_size's K/M/G are binary).
      v.push_back(parse_size(item));
    } else {
      v.push_back(std::stoul(item));
    }
  }
  MART_CHECK(!v.empty(), "bench: empty list '", s, "'");
  return v;
}

struct Config {
  const char* name;
  bool bf16_grad;
  int out;  // 0 none, 1 f32, 2 bf16
};
// f32g_bf16out: fp32 grads in, bf16 param copy out (the headline: strictly more work than
// torch's AdamW step). f32g_noout: exactly torch's work. bf16g_bf16out: MART's offload layout
// (bf16 grads come down from the GPU). f32g_f32out: an fp32 upload buffer.
const Config kConfigs[] = {{"f32g_bf16out", false, 2},
                           {"f32g_noout", false, 0},
                           {"bf16g_bf16out", true, 2},
                           {"f32g_f32out", false, 1}};

int run(int argc, char** argv) {
  std::vector<size_t> sizes = {16u << 20, 64u << 20};
  const int nproc = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<size_t> threads;
  for (int t = 1; t <= nproc; ++t) threads.push_back(t);
  int reps = 9, warmup = 2;
  size_t triad_mib = 512;
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      MART_CHECK(i + 1 < argc, "bench: ", a, " needs a value");
      return argv[++i];
    };
    if (a == "--sizes")
      sizes = parse_list(next(), true);
    else if (a == "--threads")
      threads = parse_list(next(), false);
    else if (a == "--reps")
      reps = std::stoi(next());
    else if (a == "--warmup")
      warmup = std::stoi(next());
    else if (a == "--triad-mib")
      triad_mib = std::stoul(next());
    else if (a == "--json")
      json_path = next();
    else
      MART_FAIL("bench: unknown argument '", a,
                "' (see the comment at the top of bench/cpu_adam.cpp)");
  }
  MART_CHECK(reps >= 1 && warmup >= 0, "bench: --reps must be >= 1 and --warmup >= 0");
  const cpu::AdamIsa isa = cpu::adam_isa_default();
  const int max_threads = static_cast<int>(*std::max_element(threads.begin(), threads.end()));
  std::printf("bench_cpu_adam: isa %s, nproc %d, reps %d (median) after %d warmup\n",
              cpu::adam_isa_name(isa), nproc, reps, warmup);
  std::vector<Row> rows;

  // Triad first: the bandwidth the AdamW numbers are judged against.
  {
    const size_t n = (triad_mib << 20) / sizeof(double);
    Buffer<double> a(n), b(n), c(n);
    for (size_t t : threads) {
      CpuAdamOptions o;
      o.threads = static_cast<int>(t);
      CpuAdam pool_owner(o);
      ThreadPool& pool = pool_owner.pool();
      const size_t tile = 8192;
      pool.run([&](int w, int nw) {  // first touch by the worker that will stream it
        const Range r = static_tiles(n, tile, w, nw);
        for (size_t i = r.begin; i < r.end; ++i) a.p[i] = 0.0, b.p[i] = 1.0, c.p[i] = 2.0;
      });
      // Three variants; the best one is the bandwidth the AdamW numbers are judged against.
      for (int variant : {0, 1, 2}) {
        static const char* const kNames[] = {"nt_store512", "nt_store", "plain"};
        static const char* const kIsas[] = {"avx512", "avx2", "sse2"};
        if (variant == 0 && !__builtin_cpu_supports("avx512f")) continue;
        if (variant == 1 && !__builtin_cpu_supports("avx2")) continue;
        const Timing tm = time_reps(warmup, reps, [&] {
          pool.run([&](int w, int nw) {
            const Range r = static_tiles(n, tile, w, nw);
            if (variant == 0) triad_nt512(a.p, b.p, c.p, 3.0, r.begin, r.end);
            if (variant == 1) triad_nt(a.p, b.p, c.p, 3.0, r.begin, r.end);
            if (variant == 2) triad_plain(a.p, b.p, c.p, 3.0, r.begin, r.end);
          });
        });
        add(rows, {"triad", kNames[variant], "pool", kIsas[variant], n, static_cast<int>(t),
                   tm.median, 24.0, tm.min});
      }
    }
  }

  for (size_t n : sizes) {
    Buffer<float> grad(n), master(n), m(n), v(n), out32(n);
    Buffer<uint16_t> grad16(n), out16(n);
    {  // fill in parallel (first touch spread over the workers), values in a realistic range
      CpuAdamOptions o;
      o.threads = max_threads;
      CpuAdam init(o);
      init.pool().run([&](int w, int nw) {
        const Range r = static_tiles(n, 16384, w, nw);
        std::mt19937 rng(static_cast<uint32_t>(w + 1));
        std::normal_distribution<float> nd(0.0f, 1.0f);
        for (size_t i = r.begin; i < r.end; ++i) {
          grad.p[i] = nd(rng) * 1e-2f;
          grad16.p[i] = f32_to_bf16(grad.p[i]);
          master.p[i] = nd(rng) * 0.02f;
          m.p[i] = 0.0f;
          v.p[i] = 0.0f;
          out32.p[i] = 0.0f;
          out16.p[i] = 0;
        }
      });
    }
    auto span_for = [&](const Config& c) {
      AdamChunk s;
      s.grad = c.bf16_grad ? static_cast<const void*>(grad16.p) : grad.p;
      s.grad_dtype = c.bf16_grad ? DType::BF16 : DType::F32;
      s.master = master.p;
      s.m = m.p;
      s.v = v.p;
      s.out = c.out == 0 ? nullptr : c.out == 1 ? static_cast<void*>(out32.p) : out16.p;
      s.out_dtype = c.out == 1 ? DType::F32 : DType::BF16;
      s.n = n;
      return s;
    };
    AdamWHyper h;
    h.weight_decay = 0.1f;
    for (const Config& c : kConfigs) {
      const AdamChunk s = span_for(c);
      const double bpe = static_cast<double>(cpu::adamw_bytes_per_element(s));
      // Single thread, straight on the calling thread (no pool).
      const Timing t1 = time_reps(warmup, reps, [&] {
        ++h.step;
        cpu::adamw_simd(s, cpu::adamw_consts(h), isa);
      });
      add(rows, {"adamw", c.name, "direct", cpu::adam_isa_name(isa), n, 1, t1.median, bpe, t1.min});
      for (size_t t : threads) {
        CpuAdamOptions o;
        o.threads = static_cast<int>(t);
        CpuAdam adam(o);
        const Timing tp = time_reps(warmup, reps, [&] {
          ++h.step;
          adam.step(s, h);
        });
        add(rows, {"adamw", c.name, "pool", cpu::adam_isa_name(isa), n, static_cast<int>(t),
                   tp.median, bpe, tp.min});
      }
    }
    if (n == sizes.front()) {  // what the SIMD paths buy, one thread, headline config
      const AdamChunk s = span_for(kConfigs[0]);
      for (cpu::AdamIsa i : {cpu::AdamIsa::Scalar, cpu::AdamIsa::Avx2, cpu::AdamIsa::Avx512}) {
        if (!cpu::adam_isa_supported(i)) continue;
        const Timing tm = time_reps(1, std::max(3, reps / 2), [&] {
          ++h.step;
          cpu::adamw_simd(s, cpu::adamw_consts(h), i);
        });
        add(rows, {"isa", kConfigs[0].name, "direct", cpu::adam_isa_name(i), n, 1, tm.median,
                   static_cast<double>(cpu::adamw_bytes_per_element(s)), tm.min});
      }
    }
  }

  // Summary: best pool AdamW (headline config) vs best triad.
  double best_triad = 0, best_adam = 0;
  for (const Row& r : rows) {
    if (r.kind == "triad") best_triad = std::max(best_triad, r.gbps());
    if (r.kind == "adamw" && r.mode == "pool" && r.config == kConfigs[0].name)
      best_adam = std::max(best_adam, r.gbps());
  }
  std::printf("best triad %.2f GB/s; best AdamW (%s) %.2f GB/s; ratio %.3f\n", best_triad,
              kConfigs[0].name, best_adam, best_adam / best_triad);
  std::ostringstream js;
  js << "{\"bench\":\"cpu_adam\",\"isa\":\"" << cpu::adam_isa_name(isa) << "\",\"nproc\":" << nproc
     << ",\"reps\":" << reps << ",\"warmup\":" << warmup << ",\"best_triad_gbps\":" << best_triad
     << ",\"best_adamw_gbps\":" << best_adam << ",\"ratio_adamw_triad\":" << best_adam / best_triad
     << ",\"rows\":[";
  for (size_t i = 0; i < rows.size(); ++i) js << (i ? "," : "") << json_row(rows[i]);
  js << "]}";
  bench::emit_json("bench_cpu_adam", js.str(), json_path);
  return 0;
}

}  // namespace
}  // namespace mart

int main(int argc, char** argv) {
  return mart::bench::bench_main("bench_cpu_adam", mart::run, argc, argv);
}
