// bench_cpu_step: MART's whole training step (forward, backward, global-norm clip, AdamW) on the
// CPU backend for one model shape, as the Trainer runs it (a Session with resident states and
// every activation kept). Times each step after the warmup by wall clock and by process CPU time
// (CPU time is what a shared machine's load distorts least). Prints a table line and one
// "JSON {...}" with the per-step times; bench/cpu_step_vs_torch.sh compares it with
// bench/torch_step_cpu.py on the same shape.
//
//   bench_cpu_step --family gpt2|llama [--layers 6 --width 384 --heads 6 --seq 256 --batch 4
//                  --vocab 256 --steps 10 --warmup 2 --json FILE]
#include <omp.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "config/job_config.h"
#include "runtime/session.h"

namespace mart {
namespace {

struct Args {
  std::string family = "gpt2", json_path;
  int layers = 6, width = 384, heads = 6, seq = 256, batch = 4, vocab = 256, steps = 10, warmup = 2;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    MART_CHECK(i + 1 < argc, "option ", k, " needs a value");
    const char* v = argv[++i];
    if (k == "--family")
      a.family = v;
    else if (k == "--json")
      a.json_path = v;
    else if (k == "--layers")
      a.layers = std::stoi(v);
    else if (k == "--width")
      a.width = std::stoi(v);
    else if (k == "--heads")
      a.heads = std::stoi(v);
    else if (k == "--seq")
      a.seq = std::stoi(v);
    else if (k == "--batch")
      a.batch = std::stoi(v);
    else if (k == "--vocab")
      a.vocab = std::stoi(v);
    else if (k == "--steps")
      a.steps = std::stoi(v);
    else if (k == "--warmup")
      a.warmup = std::stoi(v);
    else
      MART_FAIL("unknown option '", k, "'; see the usage at the top of bench/cpu_step.cpp");
  }
  MART_CHECK(a.family == "gpt2" || a.family == "llama", "--family must be gpt2 or llama, got '",
             a.family, "'");
  MART_CHECK(a.steps >= 1 && a.warmup >= 0, "--steps must be >= 1 and --warmup >= 0");
  return a;
}

// GPT-2: d_ff = 4 width, tied. Llama: SwiGLU width 8/3 * width rounded to 64, untied, no GQA.
JobConfig job(const Args& a) {
  JobConfig c;
  c.name = "bench_cpu_step";
  c.backend = "cpu";
  ModelConfig& m = c.model;
  m.family = a.family == "gpt2" ? ModelFamily::GPT2 : ModelFamily::Llama;
  m.n_layer = a.layers;
  m.d_model = a.width;
  m.n_head = m.n_kv_head = a.heads;
  m.d_ff = a.family == "gpt2" ? 4 * a.width : (8 * a.width / 3 + 63) / 64 * 64;
  m.vocab_size = a.vocab;
  m.max_seq_len = a.seq;
  m.tied_embeddings = a.family == "gpt2";
  c.train.micro_batch = a.batch;
  c.train.seq_len = a.seq;
  c.data.synthetic_vocab = std::min(c.data.synthetic_vocab, a.vocab);
  c.data.synthetic_branching = std::min(c.data.synthetic_branching, c.data.synthetic_vocab);
  for (int l = 0; l < a.layers; ++l) c.activations.modes.push_back(act_mode_name(ActMode::Keep));
  return c;
}

MicroBatch batch(int B, int T, int V, uint64_t seed) {
  MicroBatch mb;
  mb.inputs.resize(static_cast<size_t>(B) * T);
  mb.targets.resize(mb.inputs.size());
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < mb.inputs.size(); ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    mb.inputs[i] = static_cast<int32_t>((s >> 33) % static_cast<uint64_t>(V));
    mb.targets[i] = (mb.inputs[i] * 7 + 3) % V;
  }
  return mb;
}

long minor_faults() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

std::string json_list(const std::vector<double>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int run(int argc, char** argv) {
  const Args a = parse(argc, argv);
  SessionOptions so;
  so.host.pin = PinMode::kOff;
  Session session(job(a), so);
  session.init_weights(1234);
  StepHyper h;
  h.lr = 3e-4f;
  h.weight_decay = 0.1f;
  h.grad_clip = 1.0f;
  std::vector<double> wall, cpu, faults;
  double first_loss = 0, last_loss = 0;
  for (int s = 1; s <= a.warmup + a.steps; ++s) {
    const std::vector<MicroBatch> mbs = {batch(a.batch, a.seq, a.vocab, s)};
    h.step = s;
    const long f0 = minor_faults();
    const double c0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    const StepResult r = session.train_step(mbs, h);
    const double w = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double c = cpu_seconds() - c0;
    if (s == 1) first_loss = r.loss;
    last_loss = r.loss;
    if (s > a.warmup) {
      wall.push_back(w);
      cpu.push_back(c);
      faults.push_back(static_cast<double>(minor_faults() - f0));
    }
  }
  const double tokens = static_cast<double>(a.batch) * a.seq;
  const double mw = median(wall), mc = median(cpu);
  std::printf(
      "mart %s: %llu params, B=%d T=%d, %d threads, median step %.4f s wall (%.0f tok/s), "
      "%.4f s cpu (%.0f tok/s), %.0f page faults/step; loss %.4f -> %.4f\n",
      a.family.c_str(), static_cast<unsigned long long>(session.spec().n_params), a.batch, a.seq,
      omp_get_max_threads(), mw, tokens / mw, mc, tokens / mc, median(faults), first_loss,
      last_loss);
  std::string json = "{\"impl\":\"mart\",\"family\":\"" + a.family +
                     "\",\"params\":" + std::to_string(session.spec().n_params) +
                     ",\"batch\":" + std::to_string(a.batch) + ",\"seq\":" + std::to_string(a.seq) +
                     ",\"threads\":" + std::to_string(omp_get_max_threads()) +
                     ",\"wall_s\":" + json_list(wall) + ",\"cpu_s\":" + json_list(cpu) +
                     ",\"minor_faults\":" + json_list(faults) +
                     ",\"first_loss\":" + std::to_string(first_loss) +
                     ",\"last_loss\":" + std::to_string(last_loss) + "}";
  bench::emit_json("bench_cpu_step", json, a.json_path);
  return 0;
}

}  // namespace
}  // namespace mart

int main(int argc, char** argv) {
  return mart::bench::bench_main("bench_cpu_step", mart::run, argc, argv);
}
