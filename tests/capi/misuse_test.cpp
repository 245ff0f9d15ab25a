// The misuse walker: each case misuses the API once and must get its exact status and a message
// that names the problem (the argument, the index, the key, the file); afterwards the session
// still works and its next step equals the step of a session nobody misused (so the refused call
// changed nothing).
#include <filesystem>
#include <functional>
#include <thread>

#include "capi/session_handle.h"
#include "tests/capi/capi_util.h"

namespace mart::capi_test {
namespace {

namespace fs = std::filesystem;

struct Misuse {
  const char* name;
  mart_status want;
  std::vector<std::string> message_has;
  // Misuses `s` (a fresh session of tiny_job) with the help of a scratch directory; returns the
  // status of the misused call.
  std::function<mart_status(mart_session* s, const TempDir& tmp)> call;
};

// Sequential data order: checkpoint_of_another_seq_len is caught by the saved window position
// (a random/shuffle state is a row count, which fits any seq_len).
JobConfig sequential_job() {
  JobConfig c = tiny_job(ModelFamily::GPT2);
  c.data.order = "sequential";
  return c;
}
const JobConfig& job() {
  static const JobConfig c = sequential_job();
  return c;
}
constexpr size_t kN = 2 * 16;  // B*T
constexpr int32_t kV = 32;

// A valid micro-batch and step params of the job.
Tokens batch() {
  Tokens t;
  for (size_t i = 0; i < kN; ++i) {
    t.inputs.push_back(static_cast<int32_t>((i * 7 + 3) % kV));
    t.targets.push_back(static_cast<int32_t>((i * 5 + 1) % kV));
  }
  return t;
}
mart_step_params hyper(mart_session* s) {
  mart_step_params p{};
  EXPECT_EQ(mart_session_step_params(s, 0, &p), MART_OK);
  return p;
}
// The job's hyperparameters without asking the session (which may be the misused handle).
mart_step_params job_hyper() {
  const TrainConfig& t = job().train;
  mart_step_params p{};
  p.lr = t.lr / t.warmup_steps;
  p.beta1 = t.beta1;
  p.beta2 = t.beta2;
  p.eps = t.eps;
  p.weight_decay = t.weight_decay;
  p.grad_clip = t.grad_clip;
  return p;  // step 0: steps_done + 1
}
mart_status step_with(mart_session* s, const Tokens& t, size_t n) {
  mart_step_result r{};
  return mart_session_train_step(s, t.inputs.data(), t.targets.data(), n, job_hyper(), &r);
}
// A checkpoint of another (trained) session of the job in tmp/other; returns its directory.
std::string other_checkpoint(const TempDir& tmp, const JobConfig& cfg) {
  SessionPtr o = make_session(cfg);
  capi_train(o.get(), cfg, 1);
  char* p = nullptr;
  EXPECT_EQ(mart_session_save_checkpoint(o.get(), tmp.file("other").c_str(), &p), MART_OK);
  std::string dir = p;
  mart_string_free(p);
  return dir;
}
void flip_byte(const std::string& path, size_t from_end) {
  std::string bytes = testutil::read_all(path);
  bytes[bytes.size() - from_end] ^= 0x40;
  testutil::write_all(path, bytes);
}

std::vector<Misuse> session_misuses() {
  std::vector<Misuse> m;
  m.push_back({"null_session",
               MART_ERR_INVALID_HANDLE,
               {"mart_session_train_step", "`session` is NULL"},
               [](mart_session*, const TempDir&) { return step_with(nullptr, batch(), kN); }});
  m.push_back({"destroyed_session",
               MART_ERR_INVALID_HANDLE,
               {"not a live session", "destroyed"},
               [](mart_session*, const TempDir&) {
                 mart_session* d = make_session(job()).release();
                 EXPECT_EQ(mart_session_destroy(d), MART_OK);
                 return step_with(d, batch(), kN);
               }});
  m.push_back({"destroy_twice",
               MART_ERR_INVALID_HANDLE,
               {"mart_session_destroy", "not a live"},
               [](mart_session*, const TempDir&) {
                 mart_session* d = make_session(job()).release();
                 EXPECT_EQ(mart_session_destroy(d), MART_OK);
                 return mart_session_destroy(d);
               }});
  m.push_back({"null_out",
               MART_ERR_INVALID_ARGUMENT,
               {"`out` is NULL"},
               [](mart_session* s, const TempDir&) {
                 const Tokens t = batch();
                 return mart_session_train_step(s, t.inputs.data(), t.targets.data(), kN, hyper(s),
                                                nullptr);
               }});
  m.push_back({"null_inputs",
               MART_ERR_INVALID_ARGUMENT,
               {"`inputs` is NULL"},
               [](mart_session* s, const TempDir&) {
                 const Tokens t = batch();
                 mart_step_result r{};
                 return mart_session_train_step(s, nullptr, t.targets.data(), kN, hyper(s), &r);
               }});
  m.push_back({"null_info_out",
               MART_ERR_INVALID_ARGUMENT,
               {"mart_session_get_info", "`out` is NULL"},
               [](mart_session* s, const TempDir&) { return mart_session_get_info(s, nullptr); }});
  m.push_back({"wrong_n_tokens",
               MART_ERR_INVALID_ARGUMENT,
               {"`n_tokens` is 31", "multiple of micro_batch*seq_len = 32"},
               [](mart_session* s, const TempDir&) { return step_with(s, batch(), kN - 1); }});
  m.push_back({"zero_n_tokens",
               MART_ERR_INVALID_ARGUMENT,
               {"`n_tokens` is 0"},
               [](mart_session* s, const TempDir&) { return step_with(s, batch(), 0); }});
  m.push_back({"input_too_large",
               MART_ERR_INVALID_ARGUMENT,
               {"`inputs[5]` is 32", "[0, 32)"},
               [](mart_session* s, const TempDir&) {
                 Tokens t = batch();
                 t.inputs[5] = kV;
                 return step_with(s, t, kN);
               }});
  m.push_back({"input_negative",
               MART_ERR_INVALID_ARGUMENT,
               {"`inputs[9]` is -1"},
               [](mart_session* s, const TempDir&) {
                 Tokens t = batch();
                 t.inputs[9] = -1;
                 return step_with(s, t, kN);
               }});
  m.push_back({"target_too_large",
               MART_ERR_INVALID_ARGUMENT,
               {"`targets[3]` is 40"},
               [](mart_session* s, const TempDir&) {
                 Tokens t = batch();
                 t.targets[3] = 40;
                 return step_with(s, t, kN);
               }});
  m.push_back({"every_target_ignored",
               MART_ERR_INVALID_ARGUMENT,
               {"every target is negative"},
               [](mart_session* s, const TempDir&) {
                 Tokens t = batch();
                 t.targets.assign(kN, -1);
                 return step_with(s, t, kN);
               }});
  m.push_back({"eval_micro_batch_without_targets",
               MART_ERR_INVALID_ARGUMENT,
               {"micro-batch 1", "`targets[32..64)`"},
               [](mart_session* s, const TempDir&) {
                 Tokens t = batch(), u = batch();
                 t.inputs.insert(t.inputs.end(), u.inputs.begin(), u.inputs.end());
                 t.targets.insert(t.targets.end(), kN, -1);
                 double loss = 0;
                 return mart_session_eval_loss(s, t.inputs.data(), t.targets.data(), 2 * kN, &loss);
               }});
  m.push_back({"lr_not_finite",
               MART_ERR_INVALID_ARGUMENT,
               {"`params.lr` is not finite"},
               [](mart_session* s, const TempDir&) {
                 const Tokens t = batch();
                 mart_step_params p = hyper(s);
                 p.lr = std::nanf("");
                 mart_step_result r{};
                 return mart_session_train_step(s, t.inputs.data(), t.targets.data(), kN, p, &r);
               }});
  m.push_back({"negative_step",
               MART_ERR_INVALID_ARGUMENT,
               {"`step` is -2"},
               [](mart_session* s, const TempDir&) {
                 mart_step_params p{};
                 return mart_session_step_params(s, -2, &p);
               }});
  m.push_back({"bad_split",
               MART_ERR_INVALID_ARGUMENT,
               {"`split` is 2"},
               [](mart_session* s, const TempDir&) {
                 Tokens t = batch();
                 return mart_session_next_batch(s, 2, 0, t.inputs.data(), t.targets.data(), kN);
               }});
  m.push_back({"logits_wrong_size",
               MART_ERR_INVALID_ARGUMENT,
               {"`n_logits` is 10"},
               [](mart_session* s, const TempDir&) {
                 const Tokens t = batch();
                 std::vector<float> l(10);
                 return mart_session_logits(s, t.inputs.data(), kN, l.data(), l.size());
               }});
  m.push_back({"param_not_found",
               MART_ERR_NOT_FOUND,
               {"no parameter named 'transformer.h.0.attn.c_atn.weight'",
                "'transformer.h.0.attn.c_attn.weight'"},
               [](mart_session* s, const TempDir&) {
                 std::vector<float> v(10);
                 return mart_session_param_get(s, "transformer.h.0.attn.c_atn.weight", v.data(),
                                               10);
               }});
  m.push_back({"param_wrong_numel",
               MART_ERR_INVALID_ARGUMENT,
               {"`numel` is 7", "'transformer.wte.weight' has 1024 elements"},
               [](mart_session* s, const TempDir&) {
                 std::vector<float> v(7, 1.0f);
                 return mart_session_param_set(s, "transformer.wte.weight", v.data(), 7);
               }});
  m.push_back({"param_index_out_of_range",
               MART_ERR_INVALID_ARGUMENT,
               {"`index` is 99"},
               [](mart_session* s, const TempDir&) {
                 mart_param_info pi{};
                 return mart_session_param_info(s, 99, &pi);
               }});
  m.push_back(
      {"busy", MART_ERR_BUSY, {"in use by another thread"}, [](mart_session* s, const TempDir&) {
         // The test hook: hold the flag a call in another thread would hold.
         s->busy.store(true);
         const mart_status st = step_with(s, batch(), kN);
         EXPECT_EQ(mart_session_destroy(s), MART_ERR_BUSY);  // and nothing freed
         s->busy.store(false);
         return st;
       }});
  m.push_back({"missing_checkpoint",
               MART_ERR_IO,
               {"'/nonexistent/run' does not exist"},
               [](mart_session* s, const TempDir&) {
                 return mart_session_load_checkpoint(s, "/nonexistent/run");
               }});
  m.push_back({"damaged_checkpoint",
               MART_ERR_IO,
               {"model.safetensors fails its CRC32C check"},
               [](mart_session* s, const TempDir& tmp) {
                 const std::string dir = other_checkpoint(tmp, job());
                 flip_byte(dir + "/model/model.safetensors", 5);
                 return mart_session_load_checkpoint(s, dir.c_str());
               }});
  m.push_back({"truncated_checkpoint",
               MART_ERR_IO,
               {"optimizer.safetensors has", "truncated"},
               [](mart_session* s, const TempDir& tmp) {
                 const std::string dir = other_checkpoint(tmp, job());
                 fs::resize_file(dir + "/optimizer.safetensors",
                                 fs::file_size(dir + "/optimizer.safetensors") - 8);
                 return mart_session_load_checkpoint(s, dir.c_str());
               }});
  m.push_back({"checkpoint_of_another_model",
               MART_ERR_IO,
               {"model.n_layer = 3", "mismatch"},
               [](mart_session* s, const TempDir& tmp) {
                 JobConfig other = job();
                 other.model.n_layer = 3;
                 return mart_session_load_checkpoint(s, other_checkpoint(tmp, other).c_str());
               }});
  m.push_back({"checkpoint_of_another_seq_len",
               MART_ERR_IO,
               {"does not fit this session's training data"},
               [](mart_session* s, const TempDir& tmp) {
                 JobConfig other = job();
                 other.train.seq_len =
                     10;  // same model; 4 windows of 10 end at 40, not a window of 16
                 return mart_session_load_checkpoint(s, other_checkpoint(tmp, other).c_str());
               }});
  m.push_back({"hf_file_of_another_model",
               MART_ERR_IO,
               {"has shape", "configured model needs"},
               [](mart_session* s, const TempDir& tmp) {
                 JobConfig other = job();
                 other.model.d_ff = 64;  // every tensor before the first MLP matches
                 return mart_session_load_hf(
                     s, (other_checkpoint(tmp, other) + "/model/model.safetensors").c_str());
               }});
  m.push_back(
      {"nonfinite_gradient",
       MART_ERR_NUMERIC,
       {"training diverged: the gradient norm is", "reload them"},
       [](mart_session* s, const TempDir& tmp) {
         // A checkpoint of the untouched session first, to restore it afterwards.
         char* p = nullptr;
         EXPECT_EQ(mart_session_save_checkpoint(s, tmp.file("self").c_str(), &p), MART_OK);
         const std::string dir = p;
         mart_string_free(p);
         std::vector<float> inf(32 * 32, std::numeric_limits<float>::infinity());
         EXPECT_EQ(mart_session_param_set(s, "transformer.wte.weight", inf.data(), inf.size()),
                   MART_OK);
         const mart_status st = step_with(s, batch(), kN);
         EXPECT_EQ(mart_session_load_checkpoint(s, dir.c_str()), MART_OK) << mart_last_error();
         return st;
       }});
  return m;
}

TEST(CapiMisuse, EachMisuseGetsItsStatusAndMessageAndChangesNothing) {
  SessionPtr ref = make_session(job());
  mart_step_result want{};
  const Tokens t = batch();
  ASSERT_EQ(mart_session_train_step(ref.get(), t.inputs.data(), t.targets.data(), kN,
                                    hyper(ref.get()), &want),
            MART_OK);
  for (const Misuse& m : session_misuses()) {
    SCOPED_TRACE(m.name);
    TempDir tmp(m.name);
    SessionPtr s = make_session(job());
    const mart_status st = m.call(s.get(), tmp);
    EXPECT_EQ(st, m.want) << mart_status_string(st) << ": " << mart_last_error();
    const std::string msg = mart_last_error();
    for (const std::string& part : m.message_has) EXPECT_TRUE(has(msg, part));
    mart_step_result got{};
    ASSERT_EQ(mart_session_train_step(s.get(), t.inputs.data(), t.targets.data(), kN,
                                      hyper(s.get()), &got),
              MART_OK)
        << mart_last_error();
    EXPECT_TRUE(same_bits(got.loss, want.loss)) << got.loss << " vs " << want.loss;
    EXPECT_EQ(got.grad_norm, want.grad_norm);
    EXPECT_EQ(got.step, 1);
  }
}

// Creating a session: each bad request gets its status and a message naming what is wrong.
TEST(CapiMisuse, CreateRefusesBadRequests) {
  const std::string yaml = to_yaml(job());
  TempDir tmp;
  testutil::write_all(tmp.file("job.yaml"), yaml);
  struct Case {
    const char* name;
    mart_status want;
    std::vector<std::string> message_has;
    std::function<void(mart_session_params&)> edit;
  };
  static const char* bad_key[] = {"train.seed=3", "train.lrr=0.1"};
  static const char* null_entry[] = {"train.seed=3", nullptr};
  static const char* no_fit[] = {"memory.device_capacity=64KiB"};
  static const char* bad_value[] = {"train.micro_batch=0"};
  const std::vector<Case> cases = {
      {"bad_yaml",
       MART_ERR_CONFIG,
       {"mart_session_create", "config_yaml"},
       [](mart_session_params& p) { p.config_yaml = "model: [gpt2\ntrain: {"; }},
      {"unknown_override_key",
       MART_ERR_CONFIG,
       {"lrr", "did you mean 'lr'"},
       [](mart_session_params& p) {
         p.overrides = bad_key;
         p.n_overrides = 2;
       }},
      {"bad_override_value",
       MART_ERR_CONFIG,
       {"micro_batch"},
       [](mart_session_params& p) {
         p.overrides = bad_value;
         p.n_overrides = 1;
       }},
      {"null_overrides",
       MART_ERR_INVALID_ARGUMENT,
       {"`overrides` is NULL but `n_overrides` is 2"},
       [](mart_session_params& p) { p.n_overrides = 2; }},
      {"null_override_entry",
       MART_ERR_INVALID_ARGUMENT,
       {"`overrides[1]` is NULL"},
       [](mart_session_params& p) {
         p.overrides = null_entry;
         p.n_overrides = 2;
       }},
      {"negative_override_count",
       MART_ERR_INVALID_ARGUMENT,
       {"`n_overrides` is -1"},
       [](mart_session_params& p) { p.n_overrides = -1; }},
      {"path_and_yaml",
       MART_ERR_INVALID_ARGUMENT,
       {"`config_path` and `config_yaml` are both set"},
       [&](mart_session_params& p) { p.config_path = "job.yaml"; }},
      {"missing_file",
       MART_ERR_IO,
       {"'/nonexistent/job.yaml' does not exist"},
       [](mart_session_params& p) {
         p.config_yaml = nullptr;
         p.config_path = "/nonexistent/job.yaml";
       }},
      {"does_not_fit",
       MART_ERR_OUT_OF_MEMORY,
       {"does not fit in device memory"},
       [](mart_session_params& p) {
         p.overrides = no_fit;
         p.n_overrides = 1;
       }},
      {"bad_init_flag",
       MART_ERR_INVALID_ARGUMENT,
       {"`init_weights` is 2"},
       [](mart_session_params& p) { p.init_weights = 2; }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    mart_session_params p = mart_session_default_params();
    p.config_yaml = yaml.c_str();
    c.edit(p);
    mart_session* s = reinterpret_cast<mart_session*>(0x1);  // must stay untouched
    const mart_status st = mart_session_create(p, &s);
    EXPECT_EQ(st, c.want) << mart_last_error();
    EXPECT_EQ(s, reinterpret_cast<mart_session*>(0x1));
    for (const std::string& part : c.message_has) EXPECT_TRUE(has(mart_last_error(), part));
  }
  mart_session_params p = mart_session_default_params();
  p.config_path = nullptr;
  EXPECT_EQ(mart_session_create(p, nullptr), MART_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(has(mart_last_error(), "`out` is NULL"));
  // The file itself works (the control for missing_file and path_and_yaml).
  p.config_path = nullptr;
  const std::string path = tmp.file("job.yaml");
  p.config_path = path.c_str();
  mart_session* s = nullptr;
  ASSERT_EQ(mart_session_create(p, &s), MART_OK) << mart_last_error();
  EXPECT_EQ(mart_session_destroy(s), MART_OK);
  EXPECT_EQ(mart_session_destroy(nullptr), MART_OK);
}

// A real second thread: while one thread holds the session, another gets MART_ERR_BUSY at once.
// The holder is parked inside a call deterministically by holding the flag (no timing).
TEST(CapiMisuse, SecondThreadGetsBusyAndThenSucceeds) {
  SessionPtr s = make_session(job());
  s->busy.store(true);
  mart_status in_thread = MART_OK;
  std::thread([&] {
    mart_session_info i{};
    in_thread = mart_session_get_info(s.get(), &i);
  }).join();
  EXPECT_EQ(in_thread, MART_ERR_BUSY);
  s->busy.store(false);
  std::thread([&] {
    mart_session_info i{};
    in_thread = mart_session_get_info(s.get(), &i);
  }).join();
  EXPECT_EQ(in_thread, MART_OK);
}

}  // namespace
}  // namespace mart::capi_test
