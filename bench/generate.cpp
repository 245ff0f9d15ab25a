// Generation speed with and without the KV cache (runtime/generate/): tokens/s for several output
// lengths, both families, random weights (speed does not depend on them), greedy decoding. Each
// point is the median of --reps runs; one JSON line with every point.
//   bench_generate [--backend cpu] [--lengths 64,256,512] [--reps 3] [--prompt 16] [--json PATH]
// The model: 4 blocks, width 128, 4 heads, vocab 256, context 640 (small enough that the
// no-cache baseline, quadratic in the length, finishes in seconds on one core).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "runtime/generate/decoder.h"
#include "runtime/generate/generator.h"
#include "runtime/session.h"

namespace mart {
namespace {

JobConfig bench_job(ModelFamily f, const std::string& backend) {
  JobConfig c;
  c.name = "bench-generate";
  c.backend = backend;
  c.model.family = f;
  c.model.n_layer = 4;
  c.model.d_model = 128;
  c.model.n_head = 4;
  c.model.n_kv_head = 4;
  c.model.d_ff = f == ModelFamily::GPT2 ? 512 : 384;
  c.model.vocab_size = 256;
  c.model.max_seq_len = 640;
  c.model.tied_embeddings = f == ModelFamily::GPT2;
  c.train.seq_len = 64;
  c.train.warmup_steps = 1;
  return c;
}

double tokens_per_s(Decoder& dec, int prompt, int n, bool cache) {
  std::vector<int32_t> p(prompt);
  for (int i = 0; i < prompt; ++i) p[i] = (i * 37 + 11) % 256;
  TokenLoopOptions o;
  o.max_new_tokens = n;
  o.sampling.temperature = 0;
  o.use_cache = cache;
  const auto t0 = std::chrono::steady_clock::now();
  const TokenResult r = generate_tokens(dec, p, o);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MART_CHECK(static_cast<int>(r.tokens.size()) == n, "bench_generate: ", r.tokens.size(),
             " tokens instead of ", n);
  return n / s;
}

std::vector<int> parse_lengths(const std::string& s) {
  std::vector<int> out;
  std::stringstream ss(s);
  for (std::string part; std::getline(ss, part, ',');) out.push_back(std::atoi(part.c_str()));
  return out;
}

int run(int argc, char** argv) {
  std::string backend = "cpu", json_path, lengths = "64,256,512";
  int reps = 3, prompt = 16;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--backend")
      backend = v;
    else if (k == "--lengths")
      lengths = v;
    else if (k == "--reps")
      reps = std::atoi(v.c_str());
    else if (k == "--prompt")
      prompt = std::atoi(v.c_str());
    else if (k == "--json")
      json_path = v;
    else
      MART_FAIL("bench_generate: unknown option ", k);
  }
  std::ostringstream js;
  js << "{\"backend\":\"" << backend << "\",\"prompt\":" << prompt << ",\"reps\":" << reps
     << ",\"points\":[";
  bool first = true;
  for (ModelFamily f : {ModelFamily::GPT2, ModelFamily::Llama}) {
    SessionOptions so;
    so.executor = false;
    so.generation = GenerationShape{1, 0, 64};
    Session s(bench_job(f, backend), so);
    s.init_weights(1);
    Decoder dec(s);
    for (int n : parse_lengths(lengths))
      for (bool cache : {true, false}) {
        std::vector<double> v;
        for (int r = 0; r < reps; ++r) v.push_back(tokens_per_s(dec, prompt, n, cache));
        std::sort(v.begin(), v.end());
        const double med = v[v.size() / 2];
        const char* fam = f == ModelFamily::GPT2 ? "gpt2" : "llama";
        std::printf("%-6s %4d new tokens  %-8s %9.1f tokens/s (median of %d)\n", fam, n,
                    cache ? "cache" : "no-cache", med, reps);
        std::fflush(stdout);
        js << (first ? "" : ",") << "{\"family\":\"" << fam << "\",\"new_tokens\":" << n
           << ",\"cache\":" << (cache ? "true" : "false") << ",\"tokens_per_s\":" << med << "}";
        first = false;
      }
  }
  js << "]}";
  bench::emit_json("bench_generate", js.str(), json_path);
  return 0;
}

}  // namespace
}  // namespace mart

int main(int argc, char** argv) {
  return mart::bench::bench_main("bench_generate", mart::run, argc, argv);
}
