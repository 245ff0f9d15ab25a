// Parameters by Hugging Face name: what mart_session_param_get copies out is, tensor for tensor
// and bit for bit, what the session's own checkpoint writes (GPT-2 Conv1D weights transposed to
// [in, out]); copying those weights into a fresh session gives the same next step as loading the
// file, for resident and offloaded states.
#include <cstring>
#include <vector>

#include "io/safetensors.h"
#include "tests/capi/capi_util.h"

namespace mart::capi_test {
namespace {

// Every parameter of `s` by name, through param_info + param_get.
std::vector<std::pair<mart_param_info, std::vector<float>>> all_params(mart_session* s) {
  std::vector<std::pair<mart_param_info, std::vector<float>>> out;
  const int n = info_of(s).n_tensors;
  for (int i = 0; i < n; ++i) {
    mart_param_info pi{};
    EXPECT_EQ(mart_session_param_info(s, i, &pi), MART_OK) << mart_last_error();
    std::vector<float> v(static_cast<size_t>(pi.numel));
    EXPECT_EQ(mart_session_param_get(s, pi.name, v.data(), v.size()), MART_OK) << mart_last_error();
    int32_t idx = -1;
    EXPECT_EQ(mart_session_param_find(s, pi.name, &idx), MART_OK);
    EXPECT_EQ(idx, i);
    out.emplace_back(pi, std::move(v));
  }
  return out;
}

struct ParamCase {
  const char* name;
  ModelFamily family;
  bool offload;
};

class CapiParams : public ::testing::TestWithParam<ParamCase> {};

TEST_P(CapiParams, CopyOutEqualsTheCheckpointAndCopyInEqualsLoading) {
  const ParamCase& pc = GetParam();
  JobConfig cfg = tiny_job(pc.family);
  if (pc.offload) cfg = offloaded(cfg);
  TempDir tmp;
  SessionPtr a = make_session(cfg);
  capi_train(a.get(), cfg, 2);  // moved weights, so nothing is still at its init value
  char* ckpt = nullptr;
  ASSERT_EQ(mart_session_save_checkpoint(a.get(), tmp.file("run").c_str(), &ckpt), MART_OK)
      << mart_last_error();
  const std::string model_file = std::string(ckpt) + "/model/model.safetensors";
  mart_string_free(ckpt);

  // 1. Copy-out equals the file, shapes in the Hugging Face layout.
  const auto params = all_params(a.get());
  SafetensorsFile f(model_file);
  ASSERT_EQ(params.size(), f.tensors().size());
  bool saw_transposed = false;
  for (const auto& [pi, v] : params) {
    const TensorView& t = f.tensor(pi.name);
    ASSERT_EQ(t.dtype, DType::F32);
    ASSERT_EQ(static_cast<int32_t>(t.shape.size()), pi.ndim) << pi.name;
    for (int d = 0; d < pi.ndim; ++d) EXPECT_EQ(t.shape[d], pi.shape[d]) << pi.name;
    ASSERT_EQ(t.nbytes, v.size() * 4);
    EXPECT_EQ(std::memcmp(t.data, v.data(), t.nbytes), 0) << pi.name;
    if (std::string(pi.name).find("c_attn.weight") != std::string::npos) {
      saw_transposed = true;  // GPT-2 Conv1D: [in, out] = [d_model, 3 d_model]
      EXPECT_EQ(pi.shape[0], cfg.model.d_model);
      EXPECT_EQ(pi.shape[1], 3 * cfg.model.d_model);
    }
  }
  EXPECT_EQ(saw_transposed, pc.family == ModelFamily::GPT2);

  // 2. Copy-in into a fresh session == loading the same weights from the file: one step each.
  SessionPtr by_set = make_session(cfg, /*init_weights=*/0);
  for (const auto& [pi, v] : params)
    ASSERT_EQ(mart_session_param_set(by_set.get(), pi.name, v.data(), v.size()), MART_OK)
        << mart_last_error();
  SessionPtr by_file = make_session(cfg, 0);
  ASSERT_EQ(mart_session_load_hf(by_file.get(), model_file.c_str()), MART_OK) << mart_last_error();
  SessionPtr untouched = make_session(cfg, 0);  // negative control: zero weights
  const Tokens t = next_batch(by_set.get(), 0, 0, cfg.train.grad_accum);
  const double l_set = step_on(by_set.get(), t).loss;
  const double l_file = step_on(by_file.get(), t).loss;
  EXPECT_TRUE(same_bits(l_set, l_file)) << l_set << " vs " << l_file;
  EXPECT_FALSE(same_bits(l_set, step_on(untouched.get(), t).loss));
  // ... and the weights after the step agree too.
  const auto after_set = all_params(by_set.get());
  const auto after_file = all_params(by_file.get());
  for (size_t i = 0; i < after_set.size(); ++i)
    EXPECT_EQ(after_set[i].second, after_file[i].second) << after_set[i].first.name;
}

INSTANTIATE_TEST_SUITE_P(Families, CapiParams,
                         ::testing::Values(ParamCase{"gpt2_resident", ModelFamily::GPT2, false},
                                           ParamCase{"llama_resident", ModelFamily::Llama, false},
                                           ParamCase{"gpt2_offloaded", ModelFamily::GPT2, true},
                                           ParamCase{"llama_offloaded", ModelFamily::Llama, true}),
                         [](const auto& info) { return std::string(info.param.name); });

// Setting a weight leaves the AdamW moments alone: a checkpoint's optimizer file is unchanged.
TEST(CapiParamsControl, SetKeepsTheMomentsAndInitWeightsMatchesCreate) {
  const JobConfig cfg = tiny_job(ModelFamily::Llama);
  TempDir tmp;
  SessionPtr s = make_session(cfg);
  capi_train(s.get(), cfg, 1);
  char* p1 = nullptr;
  ASSERT_EQ(mart_session_save_checkpoint(s.get(), tmp.file("a").c_str(), &p1), MART_OK);
  mart_param_info pi{};
  ASSERT_EQ(mart_session_param_info(s.get(), 0, &pi), MART_OK);
  std::vector<float> zeros(static_cast<size_t>(pi.numel), 0.0f);
  ASSERT_EQ(mart_session_param_set(s.get(), pi.name, zeros.data(), zeros.size()), MART_OK);
  char* p2 = nullptr;
  ASSERT_EQ(mart_session_save_checkpoint(s.get(), tmp.file("b").c_str(), &p2), MART_OK);
  EXPECT_EQ(testutil::read_all(std::string(p1) + "/optimizer.safetensors"),
            testutil::read_all(std::string(p2) + "/optimizer.safetensors"));
  EXPECT_NE(testutil::read_all(std::string(p1) + "/model/model.safetensors"),
            testutil::read_all(std::string(p2) + "/model/model.safetensors"));
  mart_string_free(p1);
  mart_string_free(p2);

  // init_weights(seed) of a zero session == a session created with init_weights from that seed.
  SessionPtr fresh = make_session(cfg);
  SessionPtr zero = make_session(cfg, 0);
  ASSERT_EQ(mart_session_init_weights(zero.get(), cfg.train.seed), MART_OK);
  EXPECT_EQ(all_params(fresh.get())[3].second, all_params(zero.get())[3].second);
}

}  // namespace
}  // namespace mart::capi_test
