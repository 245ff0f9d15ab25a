// bench_init_weights: wall time of the weight initialisation (runtime/model/init.h) for a model
// preset, every parameter tensor in turn as the trainer does it before step 1, on the OpenMP
// threads the environment gives (OMP_NUM_THREADS). Each tensor is dropped after it is made, so a
// 1.5B model needs only its largest tensor in memory. Prints a table line and one "JSON {...}".
//
//   bench_init_weights [--model gpt2-1.5b] [--seed 1234] [--json FILE]
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "bench/bench_util.h"
#include "config/model_presets.h"
#include "runtime/model/init.h"
#include "runtime/model/model_spec.h"

namespace mart {
namespace {

int run(int argc, char** argv) {
  std::string model = "gpt2-1.5b", json_path;
  uint64_t seed = 1234;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (!std::strcmp(argv[i], "--model") && has_value) {
      model = argv[++i];
    } else if (!std::strcmp(argv[i], "--seed") && has_value) {
      seed = std::stoull(argv[++i]);
    } else if (!std::strcmp(argv[i], "--json") && has_value) {
      json_path = argv[++i];
    } else {
      MART_FAIL("unknown argument '", argv[i], "'; use --model NAME --seed N --json FILE");
    }
  }
  const ModelSpec spec = build_model_spec(model_preset(model));
  double checksum = 0;  // keeps the work observable; also a quick cross-run identity check
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t id = 0; id < spec.params.size(); ++id) {
    const std::vector<float> v = init_param(spec, static_cast<int>(id), seed);
    checksum += v.empty() ? 0.0 : v[v.size() / 2];
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int threads = omp_get_max_threads();
  std::printf("init %s: %llu params, %d threads, %.2f s (checksum %.9g)\n", model.c_str(),
              static_cast<unsigned long long>(spec.n_params), threads, s, checksum);
  char json[256];
  std::snprintf(json, sizeof json,
                "{\"model\":\"%s\",\"params\":%llu,\"threads\":%d,\"seconds\":%.4f}", model.c_str(),
                static_cast<unsigned long long>(spec.n_params), threads, s);
  bench::emit_json("bench_init_weights", json, json_path);
  return 0;
}

}  // namespace
}  // namespace mart

int main(int argc, char** argv) {
  return mart::bench::bench_main("bench_init_weights", mart::run, argc, argv);
}
