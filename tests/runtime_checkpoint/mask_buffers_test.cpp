// Hugging Face GPT-2 files carry attention-mask buffers (h.N.attn.bias as BOOL or U8,
// h.N.attn.masked_bias) beside the weights. MART ignores them by name; before, the safetensors
// reader refused the whole file ("unsupported dtype 'U8'"). A *parameter* stored in such a dtype is
// still refused, naming it.
#include <gtest/gtest.h>

#include "runtime/checkpoint/hf_checkpoint.h"
#include "tests/runtime_checkpoint/ckpt_test_util.h"

namespace mart::ckpt_test {
namespace {

// Copies DIR/model.safetensors to OUT, adding one-byte buffers per layer and optionally replacing
// tensor `as_u8` with a U8 tensor of the same shape.
void write_with_buffers(const std::string& in, const std::string& out, int n_layer,
                        const std::string& as_u8 = "") {
  SafetensorsFile f(in);
  SafetensorsWriter w;
  std::vector<std::vector<uint8_t>> bytes;
  bytes.reserve(2 * n_layer + 1);
  for (const auto& [name, t] : f.tensors()) {
    if (name != as_u8) {
      w.add(name, t.dtype, t.shape, t.data);
      continue;
    }
    bytes.emplace_back(static_cast<size_t>(t.numel()), uint8_t{1});
    w.add(name, DType::U8, t.shape, bytes.back().data());
  }
  for (int l = 0; l < n_layer; ++l) {
    const std::string h = "transformer.h." + std::to_string(l) + ".attn.";
    bytes.emplace_back(16 * 16, uint8_t{1});  // causal mask [1, 1, 16, 16]
    w.add(h + "bias", l % 2 ? DType::U8 : DType::BOOL, {1, 1, 16, 16}, bytes.back().data());
    bytes.emplace_back(1, uint8_t{0});
    w.add(h + "masked_bias", DType::U8, {}, bytes.back().data());
  }
  w.write(out);
}

std::vector<float> all_weights(ExecutorRig& rig) {
  std::vector<float> out;
  for (size_t i = 0; i < rig.spec.params.size(); ++i) {
    std::vector<float> v(rig.spec.params[i].numel);
    rig.states->read_param(static_cast<int>(i), v.data());
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

TEST(MaskBuffers, SafetensorsReadsU8AndBool) {
  TempDir tmp;
  const uint8_t mask[4] = {1, 0, 1, 1};
  SafetensorsWriter w;
  w.add("m.bool", DType::BOOL, {2, 2}, mask);
  w.add("m.u8", DType::U8, {4}, mask);
  w.write(tmp.file("m.safetensors"));
  SafetensorsFile f(tmp.file("m.safetensors"));
  EXPECT_EQ(f.tensor("m.bool").dtype, DType::BOOL);
  EXPECT_EQ(f.tensor("m.u8").dtype, DType::U8);
  EXPECT_EQ(f.tensor("m.u8").nbytes, 4u);
  EXPECT_NE(read_all(tmp.file("m.safetensors")).find("\"BOOL\""), std::string::npos);
}

TEST(MaskBuffers, Gpt2FileWithMaskBuffersLoads) {
  TempDir tmp;
  ExecutorRig src(tiny_model(ModelFamily::GPT2), 2, 8, {}, {}, /*seed=*/7);
  save_hf_weights(src.spec, *src.states, tmp.file("a"));
  write_with_buffers(tmp.file("a/model.safetensors"), tmp.file("masked.safetensors"), 2);
  ExecutorRig dst(tiny_model(ModelFamily::GPT2), 2, 8, {}, {}, /*seed=*/8);
  ASSERT_NE(all_weights(src), all_weights(dst));  // control: the load has something to change
  load_hf_weights(dst.spec, *dst.states, tmp.file("masked.safetensors"));
  EXPECT_EQ(all_weights(src), all_weights(dst));
}

TEST(MaskBuffers, ParameterWithByteDtypeIsRefusedByName) {
  TempDir tmp;
  ExecutorRig src(tiny_model(ModelFamily::GPT2), 2, 8);
  save_hf_weights(src.spec, *src.states, tmp.file("a"));
  const std::string victim = "transformer.h.1.ln_1.weight";
  write_with_buffers(tmp.file("a/model.safetensors"), tmp.file("bad.safetensors"), 2, victim);
  const std::string e =
      error_of([&] { load_hf_weights(src.spec, *src.states, tmp.file("bad.safetensors")); });
  EXPECT_TRUE(has(e, victim)) << e;
  EXPECT_TRUE(has(e, "U8")) << e;
}

}  // namespace
}  // namespace mart::ckpt_test
