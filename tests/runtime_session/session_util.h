// Helpers for the Session tests: a small job, a deterministic step loop, a device that counts its
// outstanding memory (to see that a failed construction gives everything back).
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "device/device.h"
#include "runtime/session.h"
#include "tests/common/forwarding_device.h"
#include "tests/common/test_util.h"

namespace mart::session_test {

using testutil::error_of;
using testutil::has;

// Two Llama blocks of width 64 (about 0.1M parameters) on the synthetic corpus: a step takes a few
// milliseconds. 64 KiB chunks split it into several chunks.
inline JobConfig small_job() {
  JobConfig c;
  c.name = "session_test";
  c.model.n_layer = 2;
  c.model.d_model = 64;
  c.model.n_head = 4;
  c.model.n_kv_head = 2;
  c.model.d_ff = 128;
  c.model.vocab_size = 64;
  c.model.max_seq_len = 32;
  c.train.micro_batch = 2;
  c.train.seq_len = 16;
  c.train.steps = 4;
  c.train.warmup_steps = 1;
  c.train.eval_every = 0;
  return c;
}

// A deterministic micro-batch [B,T] from an LCG; targets a fixed function of the input.
inline MicroBatch lcg_batch(int B, int T, int vocab, uint64_t seed) {
  MicroBatch mb;
  mb.inputs.resize(static_cast<size_t>(B) * T);
  mb.targets.resize(mb.inputs.size());
  uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
  for (size_t i = 0; i < mb.inputs.size(); ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    mb.inputs[i] = static_cast<int32_t>((s >> 33) % static_cast<uint64_t>(vocab));
    mb.targets[i] = (mb.inputs[i] * 5 + 1) % vocab;
  }
  return mb;
}

// Losses and gradient norms of `steps` optimizer steps (two micro-batches each) at lr 1e-2.
struct Curve {
  std::vector<double> losses;
  std::vector<float> norms;
};
inline Curve train_curve(Session& s, int steps) {
  const JobConfig& c = s.config();
  Curve out;
  for (int k = 1; k <= steps; ++k) {
    StepHyper h;
    h.lr = 1e-2f;
    h.weight_decay = 0.1f;
    h.grad_clip = 1.0f;
    h.step = k;
    std::vector<MicroBatch> mbs;
    for (int i = 0; i < 2; ++i)
      mbs.push_back(lcg_batch(c.train.micro_batch, c.train.seq_len, c.model.vocab_size,
                              100u * static_cast<uint64_t>(k) + i));
    const StepResult r = s.train_step(mbs, h);
    out.losses.push_back(r.loss);
    out.norms.push_back(r.grad_norm);
  }
  return out;
}

// The CPU device, counting the bytes it has handed out and not yet taken back.
class CountingDevice : public testutil::ForwardingDevice {
 public:
  uint64_t outstanding() const { return outstanding_; }

  void* raw_malloc(uint64_t bytes) override {
    void* p = ForwardingDevice::raw_malloc(bytes);
    outstanding_ += bytes;
    return p;
  }
  void raw_free(void* p, uint64_t bytes) override {
    ForwardingDevice::raw_free(p, bytes);
    outstanding_ -= bytes;
  }

 private:
  std::atomic<uint64_t> outstanding_{0};
};

}  // namespace mart::session_test
