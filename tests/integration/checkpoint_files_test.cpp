// Checkpoint files: save_checkpoint + load_checkpoint round-trip parameters and Adam state
// bitwise; model.safetensors uses Hugging Face tensor names and layouts (GPT-2 Conv1D weights
// stored [in, out]); load_hf_weights accepts original GPT-2 files without the "transformer."
// prefix (ignoring their attn.bias buffers); missing or misshapen tensors are named in the error.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "io/safetensors.h"
#include "runtime/checkpoint/hf_checkpoint.h"
#include "runtime/checkpoint/train_checkpoint.h"
#include "tests/integration/integ_util.h"

namespace mart::integ {
namespace {

class CheckpointFilesTest : public ::testing::TestWithParam<ModelFamily> {};

std::string family_param_name(const ::testing::TestParamInfo<ModelFamily>& i) {
  return family_tag(i.param);
}

// A rig trained for a few steps, so weights moved and Adam m, v are non-zero.
std::unique_ptr<Rig> trained_rig(ModelFamily f) {
  auto rig = std::make_unique<Rig>(tiny_model(f), 2, 8);
  for (int s = 0; s < 3; ++s) {
    StepHyper h;
    h.lr = 1e-2f;
    h.weight_decay = 0.1f;
    h.step = s + 1;
    rig->exec->train_step({random_batch(2, 8, 32, s)}, h);
  }
  return rig;
}

JobConfig job_for(ModelFamily f) {
  JobConfig c = tiny_job(f);
  c.train.micro_batch = 2;
  c.train.seq_len = 8;
  return c;
}

TEST_P(CheckpointFilesTest, SaveThenLoadRestoresParamsAndAdamStateBitwise) {
  TempDir tmp;
  auto a = trained_rig(GetParam());
  TrainState st;
  st.step = 3;
  st.tokens_seen = 48;
  st.loader.position = 96;
  const std::string dir =
      save_checkpoint(tmp.path().string(), job_for(GetParam()), a->spec, *a->states, st);
  EXPECT_EQ(dir, latest_checkpoint(tmp.path().string()));
  EXPECT_EQ(fs::path(dir).filename(), "step_00000003");

  Rig b(tiny_model(GetParam()), 2, 8, {}, {}, /*seed=*/777);  // different initial weights
  TrainState back = load_checkpoint(dir, b.spec, *b.states);
  EXPECT_EQ(back.step, 3);
  EXPECT_EQ(back.tokens_seen, 48u);
  EXPECT_EQ(back.loader, st.loader);
  int nonzero_m = 0;
  for (size_t i = 0; i < a->spec.params.size(); ++i) {
    const int id = static_cast<int>(i);
    SCOPED_TRACE(a->spec.params[i].name);
    EXPECT_TRUE(bitwise_equal(a->param(id), b.param(id)));
    const size_t n = a->spec.params[i].numel;
    std::vector<float> ma(n), va(n), mb(n), vb(n);
    a->states->read_adam(id, ma.data(), va.data());
    b.states->read_adam(id, mb.data(), vb.data());
    EXPECT_TRUE(bitwise_equal(ma, mb));
    EXPECT_TRUE(bitwise_equal(va, vb));
    nonzero_m += std::any_of(ma.begin(), ma.end(), [](float x) { return x != 0; });
  }
  EXPECT_EQ(nonzero_m, static_cast<int>(a->spec.params.size())) << "Adam state should be non-zero";
  // The loaded model computes the same loss, bit for bit.
  MicroBatch mb = random_batch(2, 8, 32, 9);
  EXPECT_EQ(a->exec->eval_loss(mb), b.exec->eval_loss(mb));
  EXPECT_EQ(checkpoint_config(dir).model.d_model, 32);
}

TEST_P(CheckpointFilesTest, ModelFileUsesHuggingFaceNamesAndLayout) {
  TempDir tmp;
  auto rig = trained_rig(GetParam());
  save_hf_weights(rig->spec, *rig->states, tmp.path().string());
  SafetensorsFile f(tmp.file("model.safetensors"));
  std::vector<std::string> names;
  for (const auto& p : rig->spec.params) names.push_back(p.name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(f.names(), names);
  nlohmann::json cfg = nlohmann::json::parse(read_all(tmp.file("config.json")));
  if (GetParam() == ModelFamily::GPT2) {
    EXPECT_EQ(cfg.at("model_type"), "gpt2");
    EXPECT_EQ(cfg.at("n_embd"), 32);
    for (const char* n :
         {"transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.attn.c_attn.weight",
          "transformer.h.1.mlp.c_proj.bias", "transformer.ln_f.weight"})
      EXPECT_TRUE(f.contains(n)) << n;
    EXPECT_FALSE(f.contains("lm_head.weight")) << "GPT-2's head is tied to wte";
    // Conv1D: internal [3C, C] ([out, in]), stored [C, 3C] ([in, out]).
    const int id = rig->spec.find("transformer.h.0.attn.c_attn.weight");
    ASSERT_GE(id, 0);
    const TensorView& t = f.tensor("transformer.h.0.attn.c_attn.weight");
    EXPECT_EQ(t.shape, (std::vector<int64_t>{32, 96}));
    std::vector<float> w = rig->param(id);  // [96, 32]
    const int o = 70, i = 5;                // output row 70 (a v column), input 5
    float stored;
    std::memcpy(&stored, t.data + (static_cast<size_t>(i) * 96 + o) * 4, 4);
    EXPECT_EQ(stored, w[static_cast<size_t>(o) * 32 + i]);
    EXPECT_NE(w[static_cast<size_t>(o) * 32 + i], w[static_cast<size_t>(i) * 32 + o])
        << "pick an element where a missing transpose would show";
    EXPECT_EQ(f.tensor("transformer.h.0.mlp.c_fc.weight").shape, (std::vector<int64_t>{32, 128}));
    EXPECT_EQ(f.tensor("transformer.h.0.mlp.c_proj.weight").shape, (std::vector<int64_t>{128, 32}));
  } else {
    EXPECT_EQ(cfg.at("model_type"), "llama");
    EXPECT_EQ(cfg.at("num_key_value_heads"), 2);
    for (const char* n :
         {"model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
          "model.layers.1.self_attn.k_proj.weight", "model.layers.1.mlp.gate_proj.weight",
          "model.norm.weight", "lm_head.weight"})
      EXPECT_TRUE(f.contains(n)) << n;
    // nn.Linear [out, in], stored as is: k_proj is [NKV*HS, C] = [16, 32].
    EXPECT_EQ(f.tensor("model.layers.1.self_attn.k_proj.weight").shape,
              (std::vector<int64_t>{16, 32}));
    const int id = rig->spec.find("model.layers.0.mlp.down_proj.weight");
    const TensorView& t = f.tensor("model.layers.0.mlp.down_proj.weight");
    EXPECT_EQ(t.shape, (std::vector<int64_t>{32, 64}));
    float stored;
    std::memcpy(&stored, t.data + (3 * 64 + 50) * 4, 4);
    EXPECT_EQ(stored, rig->param(id)[3 * 64 + 50]);
  }
  // The config reads back to the same model shape.
  ModelConfig back = model_config_from_hf(cfg, "config.json");
  EXPECT_EQ(back.n_layer, 2);
  EXPECT_EQ(back.d_ff, rig->spec.cfg.d_ff);
  EXPECT_EQ(back.n_kv_head, rig->spec.cfg.n_kv_head);
}

// Original GPT-2 files (openai-community/gpt2) name tensors "h.0.attn.c_attn.weight", without the
// "transformer." prefix, and carry non-parameter attn.bias masks.
TEST(CheckpointFilesGpt2, LoadsFilesWithoutTransformerPrefix) {
  TempDir tmp;
  auto rig = trained_rig(ModelFamily::GPT2);
  save_hf_weights(rig->spec, *rig->states, tmp.path().string());
  SafetensorsFile f(tmp.file("model.safetensors"));
  SafetensorsWriter w;
  for (const auto& [name, t] : f.tensors()) {
    ASSERT_EQ(name.rfind("transformer.", 0), 0u) << name;
    w.add(name.substr(12), t.dtype, t.shape, t.data);
  }
  std::vector<float> mask(16 * 16, 1.0f);
  w.add("h.0.attn.bias", DType::F32, {1, 1, 16, 16}, mask.data());
  w.add("h.1.attn.bias", DType::F32, {1, 1, 16, 16}, mask.data());
  w.write(tmp.file("stripped.safetensors"));

  Rig b(tiny_model(ModelFamily::GPT2), 2, 8, {}, {}, 555);
  load_hf_weights(b.spec, *b.states, tmp.file("stripped.safetensors"));
  for (size_t i = 0; i < b.spec.params.size(); ++i)
    EXPECT_TRUE(bitwise_equal(rig->param(static_cast<int>(i)), b.param(static_cast<int>(i))))
        << b.spec.params[i].name;
}

TEST_P(CheckpointFilesTest, MissingOrMisshapenTensorIsNamed) {
  TempDir tmp;
  auto rig = trained_rig(GetParam());
  save_hf_weights(rig->spec, *rig->states, tmp.path().string());
  SafetensorsFile f(tmp.file("model.safetensors"));
  const std::string victim = GetParam() == ModelFamily::GPT2 ? "transformer.h.1.mlp.c_fc.bias"
                                                             : "model.layers.1.mlp.up_proj.weight";
  // Missing tensor.
  {
    SafetensorsWriter w;
    for (const auto& [name, t] : f.tensors())
      if (name != victim) w.add(name, t.dtype, t.shape, t.data);
    w.write(tmp.file("missing.safetensors"));
    Rig b(tiny_model(GetParam()), 2, 8);
    std::string e =
        error_of([&] { load_hf_weights(b.spec, *b.states, tmp.file("missing.safetensors")); });
    EXPECT_TRUE(has(e, "'" + victim + "' is missing"));
    EXPECT_TRUE(has(e, "missing.safetensors"));
  }
  // Wrong shape: a model with a wider MLP.
  {
    ModelConfig wide = tiny_model(GetParam());
    wide.d_ff *= 2;
    Rig b(wide, 2, 8);
    std::string e =
        error_of([&] { load_hf_weights(b.spec, *b.states, tmp.file("model.safetensors")); });
    const std::string first_fc = GetParam() == ModelFamily::GPT2
                                     ? "transformer.h.0.mlp.c_fc.weight"
                                     : "model.layers.0.mlp.gate_proj.weight";
    EXPECT_TRUE(has(e, "'" + first_fc + "' has shape"));
    EXPECT_TRUE(has(e, "but the configured model needs"));
  }
  // A Llama file into a GPT-2 model and vice versa: the first GPT-2/Llama tensor is missing.
  {
    ModelFamily other = GetParam() == ModelFamily::GPT2 ? ModelFamily::Llama : ModelFamily::GPT2;
    Rig b(tiny_model(other), 2, 8);
    std::string e =
        error_of([&] { load_hf_weights(b.spec, *b.states, tmp.file("model.safetensors")); });
    EXPECT_TRUE(has(e, "'" + b.spec.params[0].name + "' is missing"));
  }
}

INSTANTIATE_TEST_SUITE_P(Families, CheckpointFilesTest,
                         ::testing::Values(ModelFamily::Llama, ModelFamily::GPT2),
                         family_param_name);

}  // namespace
}  // namespace mart::integ
