// Helpers of the activation-mode tests: tiny models of both families, an executor rig built as the
// Trainer builds it (arena capacity == the predicted budget, pinned host allocator for swap), and
// deterministic Markov micro-batches.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "device/device.h"
#include "kernels/ops.h"
#include "memory/activation_manager.h"
#include "memory/device_arena.h"
#include "memory/host_allocator.h"
#include "runtime/backend.h"
#include "runtime/data/markov_corpus.h"
#include "runtime/executor.h"
#include "runtime/memory_budget.h"
#include "runtime/model/init.h"
#include "runtime/model/model_spec.h"
#include "runtime/model/model_states.h"
#include "tests/common/executor_rig.h"
#include "tests/common/test_util.h"

namespace mart::acts_test {

using Modes = std::vector<ActMode>;
constexpr ActMode K = ActMode::Keep, C = ActMode::Checkpoint, S = ActMode::Swap,
                  Z = ActMode::Compress, W = ActMode::CompressSwap;

inline const char* family_tag(ModelFamily f) {
  return f == ModelFamily::GPT2 ? "gpt2" : "llama";
}
inline std::string family_param_name(const ::testing::TestParamInfo<ModelFamily>& i) {
  return family_tag(i.param);
}

inline std::string modes_str(const Modes& m) {
  std::string s;
  for (ActMode x : m) s += std::string(s.empty() ? "" : ",") + act_mode_name(x);
  return s;
}

// A small model; Llama uses grouped-query attention (4 query heads, 2 kv heads).
inline ModelConfig tiny_model(ModelFamily f, int n_layer = 4, int d_model = 32) {
  ModelConfig m;
  m.family = f;
  m.n_layer = n_layer;
  m.d_model = d_model;
  m.n_head = 4;
  m.n_kv_head = f == ModelFamily::GPT2 ? 4 : 2;
  m.d_ff = f == ModelFamily::GPT2 ? 4 * d_model : 2 * d_model;
  m.vocab_size = 32;  // the default synthetic corpus has 32 symbols
  m.max_seq_len = 64;
  m.tied_embeddings = f == ModelFamily::GPT2;
  return m;
}

using Rig = testutil::ExecutorRig;

// Micro-batches of the default synthetic corpus, the same sequence for every rig.
class Batches {
 public:
  Batches(int B, int T, uint64_t seed = 99)
      : B_(B), T_(T), stream_(std::make_shared<MarkovSource>(MarkovSpec{}), seed) {}
  MicroBatch next() {
    MicroBatch mb;
    std::vector<uint32_t> tok(static_cast<size_t>(B_) * (T_ + 1));
    for (auto& t : tok) t = stream_.next();
    for (int b = 0; b < B_; ++b)
      for (int t = 0; t < T_; ++t) {
        mb.inputs.push_back(static_cast<int32_t>(tok[b * (T_ + 1) + t]));
        mb.targets.push_back(static_cast<int32_t>(tok[b * (T_ + 1) + t + 1]));
      }
    return mb;
  }

 private:
  int B_, T_;
  MarkovStream stream_;
};

inline StepHyper hyper(int step) {
  StepHyper h;
  h.lr = 1e-2f;
  h.weight_decay = 0.1f;
  h.grad_clip = 1.0f;
  h.step = step;
  return h;
}

// Bitwise equality (distinguishes -0/+0 and NaN payloads, unlike ==).
inline bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// What training did, step by step: losses, evaluation losses, and after each step the gradients
// it used (read before the next step zeroes them) and the weights.
struct StepTrace {
  std::vector<double> losses, evals;
  std::vector<std::vector<std::vector<float>>> grads, params;  // [step][tensor]
  void record(Rig& rig, double loss, double eval) {
    losses.push_back(loss);
    evals.push_back(eval);
    grads.emplace_back();
    params.emplace_back();
    for (size_t i = 0; i < rig.spec.params.size(); ++i) {
      grads.back().push_back(rig.grad(static_cast<int>(i)));
      params.back().push_back(rig.param(static_cast<int>(i)));
    }
  }
};

// Bitwise the same training: every loss, evaluation loss, gradient and weight.
inline void expect_same_training(const StepTrace& a, const StepTrace& b) {
  ASSERT_EQ(a.losses.size(), b.losses.size());
  for (size_t s = 0; s < a.losses.size(); ++s) {
    EXPECT_EQ(a.losses[s], b.losses[s]) << "step " << s + 1;
    EXPECT_EQ(a.evals[s], b.evals[s]) << "eval after step " << s + 1;
    for (size_t i = 0; i < a.grads[s].size(); ++i) {
      EXPECT_TRUE(bitwise_equal(a.grads[s][i], b.grads[s][i]))
          << "gradient of tensor " << i << " at step " << s + 1;
      EXPECT_TRUE(bitwise_equal(a.params[s][i], b.params[s][i]))
          << "weights of tensor " << i << " after step " << s + 1;
    }
  }
}

inline uint64_t tag_bytes(const ArenaStats& st, const std::string& tag) {
  auto it = st.by_tag.find(tag);
  return it == st.by_tag.end() ? 0 : it->second;
}

using testutil::TempDir;

}  // namespace mart::acts_test
