// bench_cpu_attention: the CPU backend's causal GQA attention (kernels/cpu/attention.cpp, fp32)
// forward, and forward + backward, on given shapes and OpenMP thread counts. Prints a table and one
// line "JSON {...}" with every number (bench/cpu_attention_vs_torch.sh feeds it to
// bench/torch_attention_cpu.py, which times PyTorch on the same shapes and prints the ratios).
//
//   bench_cpu_attention [--shapes 8x64x8x4x32,2x1024x8x4x32] [--threads 2] [--reps 21]
//                       [--warmup 3] [--json FILE]
//
// A shape is BxTxNHxNKVxHS. Timings are medians over reps; "fwd+bwd" is one attention_forward
// followed by one attention_backward on its outputs, as a training step runs them. GFLOP/s counts
// the causal work only (the lower triangle, diagonal included): 2 GEMMs forward and 4 backward
// (dP, dV, dK, dQ; the recomputed scores are not counted), 2 * HS flops per score each, i.e. the
// convention of FlashAttention's benchmarks.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "common/error.h"
#include "kernels/cpu/cpu_kernels.h"

namespace mart {
namespace {

using Clock = std::chrono::steady_clock;

struct Shape {
  int B, T, NH, NKV, HS;
  std::string str() const {
    std::ostringstream s;
    s << B << "x" << T << "x" << NH << "x" << NKV << "x" << HS;
    return s.str();
  }
  // Causal scores, diagonal included, over all (b, h).
  double scores() const { return double(B) * NH * (double(T) * (T + 1) / 2); }
};

Shape parse_shape(const std::string& s) {
  Shape sh{};
  MART_CHECK(std::sscanf(s.c_str(), "%dx%dx%dx%dx%d", &sh.B, &sh.T, &sh.NH, &sh.NKV, &sh.HS) == 5,
             "bench_cpu_attention: bad shape '", s, "' (want BxTxNHxNKVxHS, e.g. 8x64x8x4x32)");
  return sh;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class F>
double time_median(int warmup, int reps, F&& f) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = Clock::now();
    f();
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return median(t);
}

int run(int argc, char** argv) {
  std::string shapes_arg = "8x64x8x4x32,2x1024x8x4x32", threads_arg, json_path;
  int reps = 21, warmup = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      MART_CHECK(i + 1 < argc, "bench_cpu_attention: ", a, " needs a value");
      return argv[++i];
    };
    if (a == "--shapes") {
      shapes_arg = next();
    } else if (a == "--threads") {
      threads_arg = next();
    } else if (a == "--reps") {
      reps = std::atoi(next().c_str());
    } else if (a == "--warmup") {
      warmup = std::atoi(next().c_str());
    } else if (a == "--json") {
      json_path = next();
    } else {
      MART_FAIL("bench_cpu_attention: unknown argument '", a,
                "' (--shapes, --threads, --reps, --warmup, --json)");
    }
  }
  MART_CHECK(reps > 0 && warmup >= 0, "bench_cpu_attention: --reps must be > 0, --warmup >= 0");
  std::vector<int> threads;
  for (const auto& t : split(threads_arg)) threads.push_back(std::atoi(t.c_str()));
  if (threads.empty()) threads.push_back(omp_get_max_threads());

  std::printf("%-16s %3s  %12s %12s  %10s %10s\n", "shape BxTxNHxNKVxHS", "thr", "fwd ms",
              "fwd+bwd ms", "fwd GF/s", "f+b GF/s");
  std::ostringstream rows;
  bool first = true;
  for (const auto& sarg : split(shapes_arg)) {
    const Shape s = parse_shape(sarg);
    const size_t W = static_cast<size_t>(s.NH + 2 * s.NKV) * s.HS;
    const size_t n_qkv = static_cast<size_t>(s.B) * s.T * W;
    const size_t n_out = static_cast<size_t>(s.B) * s.T * s.NH * s.HS;
    // qkv[B,T,(NH+2NKV)*HS] and dout[B,T,NH*HS] uniform in [-1, 1]: scores of order 1.
    std::mt19937_64 g(42);
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    std::vector<float> qkv(n_qkv), dout(n_out), out(n_out), dqkv(n_qkv);
    std::vector<float> lse(static_cast<size_t>(s.B) * s.NH * s.T);  // [B,NH,T]
    for (auto& x : qkv) x = d(g);
    for (auto& x : dout) x = d(g);
    for (int t : threads) {
      omp_set_num_threads(t);
      const double fwd = time_median(warmup, reps, [&] {
        cpu::attention_forward(out.data(), lse.data(), qkv.data(), s.B, s.T, s.NH, s.NKV, s.HS);
      });
      const double fb = time_median(warmup, reps, [&] {
        cpu::attention_forward(out.data(), lse.data(), qkv.data(), s.B, s.T, s.NH, s.NKV, s.HS);
        cpu::attention_backward(dqkv.data(), dout.data(), qkv.data(), out.data(), lse.data(), s.B,
                                s.T, s.NH, s.NKV, s.HS);
      });
      const double fwd_flops = 2.0 * 2.0 * s.HS * s.scores();
      const double fb_flops = fwd_flops * 3.0;  // + 4 backward GEMMs
      std::printf("%-19s %3d  %12.3f %12.3f  %10.2f %10.2f\n", s.str().c_str(), t, fwd * 1e3,
                  fb * 1e3, fwd_flops / fwd * 1e-9, fb_flops / fb * 1e-9);
      rows << (first ? "" : ",") << "{\"shape\":\"" << s.str() << "\",\"B\":" << s.B
           << ",\"T\":" << s.T << ",\"NH\":" << s.NH << ",\"NKV\":" << s.NKV << ",\"HS\":" << s.HS
           << ",\"threads\":" << t << ",\"fwd_s\":" << fwd << ",\"fwd_bwd_s\":" << fb << "}";
      first = false;
    }
  }
  std::ostringstream json;
  json << "{\"bench\":\"cpu_attention\",\"reps\":" << reps << ",\"warmup\":" << warmup
       << ",\"rows\":[" << rows.str() << "]}";
  bench::emit_json("bench_cpu_attention", json.str(), json_path);
  return 0;
}

}  // namespace
}  // namespace mart

int main(int argc, char** argv) {
  return mart::bench::bench_main("bench_cpu_attention", mart::run, argc, argv);
}
