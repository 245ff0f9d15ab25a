// mart_parity_dump: runs a small GPT-2 or Llama through MART's CPU stack (a Session, built as the
// trainer builds it) and writes everything an independent PyTorch twin (tests/python/torch_twin.py)
// needs to recompute it, plus MART's answers:
//   DIR/model.safetensors, DIR/config.json   initial weights, Hugging Face names and layout
//   DIR/batch.json                            the evaluation batch, the training batches and the
//                                             training hyperparameters
//   DIR/logits.safetensors                    "logits" [B,T,V] fp32 on the evaluation batch
//   DIR/grads.safetensors                     d(mean loss)/d(param) on the evaluation batch, in
//                                             Hugging Face names and layout (Conv1D transposed)
//   DIR/result.json                           the evaluation loss; per training step: loss, grad
//                                             norm (before clipping), lr, valid tokens
//   DIR/final.safetensors                     the weights after the training steps (HF layout)
// Everything is deterministic (fixed seeds, a fixed LCG for tokens), so MART's numbers can be
// compared with the twin's on the same inputs.
//
// Usage: mart_parity_dump --family gpt2|llama --out DIR
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.h"
#include "io/safetensors.h"
#include "runtime/checkpoint/hf_checkpoint.h"
#include "runtime/lr_schedule.h"
#include "runtime/session.h"

namespace {

using mart::ModelConfig;
using mart::ModelFamily;
using nlohmann::json;

constexpr int kB = 2, kT = 16;
constexpr uint64_t kInitSeed = 1337;

// Training schedule: short warmup + cosine, as the trainer runs it (lr_at).
mart::TrainConfig train_config() {
  mart::TrainConfig t;
  t.micro_batch = kB;
  t.seq_len = kT;
  t.steps = 10;
  t.warmup_steps = 2;
  t.lr = 1e-2f;
  t.min_lr_ratio = 0.1f;
  t.weight_decay = 0.1f;
  t.beta1 = 0.9f;
  t.beta2 = 0.95f;
  t.eps = 1e-8f;
  // Inside the range of these models' gradient norms (about 1.3 to 3.5), so clipping scales the
  // gradients on some steps and not on others; result.json records which steps clipped and the
  // test fails if none did.
  t.grad_clip = 2.0f;
  return t;
}

// Steps that accumulate two micro-batches (the others use one), to exercise the executor's
// loss scaling by the valid-token count of the whole step.
bool two_micro_batches(int step) {
  return step % 3 == 1;
}

ModelConfig model_config(const std::string& family) {
  ModelConfig c;
  c.n_layer = 2;
  c.d_model = 32;
  c.n_head = 4;
  c.vocab_size = 64;
  c.max_seq_len = 32;
  c.norm_eps = 1e-5f;
  if (family == "gpt2") {
    c.family = ModelFamily::GPT2;
    c.n_kv_head = 4;
    c.d_ff = 4 * c.d_model;
    c.tied_embeddings = true;
  } else if (family == "llama") {
    c.family = ModelFamily::Llama;
    c.n_kv_head = 2;  // grouped-query attention: 2 query heads per kv head
    c.d_ff = 48;
    c.rope_theta = 10000.0f;
    c.tied_embeddings = false;
  } else {
    MART_FAIL("--family must be gpt2 or llama, got '", family, "'");
  }
  // A larger init than GPT-2's 0.02 makes the logits and gradients less trivially small, so the
  // comparison tests real signal rather than near-uniform predictions.
  c.init_std = 0.1f;
  return c;
}

// Deterministic micro-batch: a 64-bit LCG (Knuth's MMIX constants) seeded per batch. Targets are
// the next token of the same stream (a language-model batch), and a few positions are ignored
// (target -1) to exercise the valid-token count.
mart::MicroBatch make_batch(uint64_t seed, int vocab) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  auto next = [&]() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<int32_t>((s >> 33) % static_cast<uint64_t>(vocab));
  };
  mart::MicroBatch mb;
  const size_t N = static_cast<size_t>(kB) * kT;
  mb.inputs.resize(N);
  mb.targets.resize(N);
  for (int b = 0; b < kB; ++b) {
    int32_t cur = next();
    for (int t = 0; t < kT; ++t) {
      const size_t i = static_cast<size_t>(b) * kT + t;
      mb.inputs[i] = cur;
      cur = next();
      mb.targets[i] = cur;
    }
  }
  // Ignored targets at positions that differ between rows and batches.
  for (size_t i = (seed % 5) + 2; i < N; i += 7) mb.targets[i] = -1;
  return mb;
}

json batch_json(const mart::MicroBatch& mb) {
  return {{"inputs", mb.inputs}, {"targets", mb.targets}};
}

// The CPU backend with resident model states, every block kept: a Session builds the pieces as
// the trainer does, sized exactly.
std::unique_ptr<mart::Session> make_session(const ModelConfig& m) {
  mart::JobConfig c;
  c.name = "parity";
  c.backend = "cpu";
  c.model = m;
  c.train.micro_batch = kB;
  c.train.seq_len = kT;
  return std::make_unique<mart::Session>(c);
}

// Row-major [rows, cols] -> [cols, rows].
std::vector<float> transpose(const std::vector<float>& x, int64_t rows, int64_t cols) {
  std::vector<float> y(x.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) y[c * rows + r] = x[r * cols + c];
  return y;
}

// One fp32 tensor per parameter, read by `read(id, host)`, written under its Hugging Face name in
// Hugging Face layout (GPT-2 Conv1D weights transposed to [in, out]).
template <class Read>
void write_hf_tensors(const mart::ModelSpec& spec, const std::string& path, Read read) {
  std::vector<std::vector<float>> data(spec.params.size());
  mart::SafetensorsWriter w;
  for (size_t i = 0; i < spec.params.size(); ++i) {
    const mart::ParamInfo& p = spec.params[i];
    data[i].resize(p.numel);
    read(static_cast<int>(i), data[i].data());
    std::vector<int64_t> shape = p.shape;
    if (p.transpose_io) {
      data[i] = transpose(data[i], p.shape[0], p.shape[1]);
      std::swap(shape[0], shape[1]);
    }
    w.add(p.name, mart::DType::F32, shape, data[i].data());
  }
  w.write(path);
}

void write_json(const std::string& path, const json& j) {
  std::ofstream f(path);
  MART_CHECK(f.good(), "cannot open ", path, " for writing");
  f << j.dump(1) << "\n";
  MART_CHECK(f.good(), "cannot write ", path);
}

int run(const std::string& family, const std::string& out) {
  std::filesystem::create_directories(out);
  const ModelConfig cfg = model_config(family);
  const mart::ModelSpec spec = mart::build_model_spec(cfg);
  const mart::TrainConfig tc = train_config();
  const int V = cfg.vocab_size;

  // 1. Initial weights -> model.safetensors + config.json (the twin's starting point).
  {
    auto rt = make_session(cfg);
    rt->init_weights(kInitSeed);
    mart::save_hf_weights(spec, rt->states(), out);
  }

  // Every run below starts from the saved file, so the twin and MART see the same fp32 bits.
  const std::string weights = out + "/model.safetensors";
  const mart::MicroBatch eval = make_batch(0, V);
  json result;

  // 2. Logits and gradients on the evaluation batch.
  {
    auto rt = make_session(cfg);
    mart::load_hf_weights(spec, rt->states(), weights);
    std::vector<float> logits;
    rt->executor().forward_logits(eval, &logits);
    mart::SafetensorsWriter lw;
    lw.add("logits", mart::DType::F32, {kB, kT, V}, logits.data());
    lw.write(out + "/logits.safetensors");

    const double loss = rt->executor().forward_backward(eval);
    result["loss"] = loss;
    write_hf_tensors(spec, out + "/grads.safetensors",
                     [&](int id, float* host) { rt->states().read_grad(id, host); });
  }

  // 3. Training steps from fresh (zeroed) optimizer states.
  json steps = json::array(), losses = json::array(), norms = json::array(), lrs = json::array(),
       tokens = json::array(), clipped = json::array();
  {
    auto rt = make_session(cfg);
    mart::load_hf_weights(spec, rt->states(), weights);
    for (int s = 0; s < tc.steps; ++s) {
      std::vector<mart::MicroBatch> mbs;
      const int n_micro = two_micro_batches(s) ? 2 : 1;
      json mbj = json::array();
      for (int k = 0; k < n_micro; ++k) {
        mbs.push_back(make_batch(1000 + 10 * s + k, V));
        mbj.push_back(batch_json(mbs.back()));
      }
      mart::StepHyper h;
      h.lr = mart::lr_at(tc, s);
      h.beta1 = tc.beta1;
      h.beta2 = tc.beta2;
      h.eps = tc.eps;
      h.weight_decay = tc.weight_decay;
      h.grad_clip = tc.grad_clip;
      h.step = s + 1;
      const mart::StepResult r = rt->train_step(mbs, h);
      steps.push_back({{"micro_batches", mbj}});
      losses.push_back(r.loss);
      norms.push_back(r.grad_norm);
      lrs.push_back(h.lr);
      tokens.push_back(r.tokens);
      clipped.push_back(r.grad_norm > tc.grad_clip);
    }
    // The weights after the last step: the losses above only see the first nine updates.
    write_hf_tensors(spec, out + "/final.safetensors",
                     [&](int id, float* host) { rt->states().read_param(id, host); });
  }
  result["train"] = {{"losses", losses},
                     {"grad_norms", norms},
                     {"lrs", lrs},
                     {"tokens", tokens},
                     {"clipped", clipped}};

  json batch = {{"family", family},
                {"B", kB},
                {"T", kT},
                {"inputs", eval.inputs},
                {"targets", eval.targets},
                {"train",
                 {{"steps", tc.steps},
                  {"warmup_steps", tc.warmup_steps},
                  {"lr", tc.lr},
                  {"min_lr_ratio", tc.min_lr_ratio},
                  {"weight_decay", tc.weight_decay},
                  {"beta1", tc.beta1},
                  {"beta2", tc.beta2},
                  {"eps", tc.eps},
                  {"grad_clip", tc.grad_clip},
                  {"batches", steps}}}};
  write_json(out + "/batch.json", batch);
  write_json(out + "/result.json", result);
  std::fprintf(stderr, "mart_parity_dump: %s, %llu params, eval loss %.6f -> %s\n", family.c_str(),
               static_cast<unsigned long long>(spec.n_params), result["loss"].get<double>(),
               out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string family, out;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--family" || a == "--out") && i + 1 < argc) {
      (a == "--family" ? family : out) = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s --family gpt2|llama --out DIR\n", argv[0]);
      return 2;
    }
  }
  if (family.empty() || out.empty()) {
    std::fprintf(stderr, "usage: %s --family gpt2|llama --out DIR\n", argv[0]);
    return 2;
  }
  try {
    return run(family, out);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mart_parity_dump: %s\n", e.what());
    return 1;
  }
}
