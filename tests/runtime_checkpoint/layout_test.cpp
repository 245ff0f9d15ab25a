// Checkpoint layout format 3: step_N/model/ holds exactly what transformers' from_pretrained reads
// (weights, config.json, generation_config.json, the tokenizer's files), the training state sits
// beside it, the manifest covers model/ by relative path, every way of naming a checkpoint
// resolves to the same files, and format 2 (flat) checkpoints still verify and load bitwise.
#include <algorithm>
#include <set>

#include "runtime/checkpoint/checkpoint_tokenizer.h"
#include "runtime/checkpoint/init_from.h"
#include "runtime/checkpoint/model_source.h"
#include "runtime/data/tokenizer.h"
#include "tests/common/byte_level_vocab.h"
#include "tests/common/flat_checkpoint.h"
#include "tests/runtime_checkpoint/ckpt_test_util.h"

namespace mart::ckpt_test {
namespace {

std::set<std::string> entries(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
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

std::vector<float> all_adam(ExecutorRig& rig) {
  std::vector<float> out;
  for (size_t i = 0; i < rig.spec.params.size(); ++i) {
    std::vector<float> m(rig.spec.params[i].numel), v(m.size());
    rig.states->read_adam(static_cast<int>(i), m.data(), v.data());
    out.insert(out.end(), m.begin(), m.end());
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

// Distinct, valid AdamW moments, so a load that skipped them would be seen.
void fill_adam(ExecutorRig& rig) {
  for (size_t i = 0; i < rig.spec.params.size(); ++i) {
    std::vector<float> m(rig.spec.params[i].numel), v(m.size());
    for (size_t k = 0; k < m.size(); ++k) {
      m[k] = 1e-3f * static_cast<float>((k + i) % 17) - 8e-3f;
      v[k] = 1e-5f * static_cast<float>((k * 3 + i) % 11);
    }
    rig.states->write_adam(static_cast<int>(i), m.data(), v.data());
  }
}

// A Hugging Face byte-level BPE file under a name of its own, with a tokenizer_config.json beside
// it naming "ab" (id 256) as its bos and eos token.
std::string write_bpe_tokenizer(const std::string& dir) {
  nlohmann::json vocab = mart::test::byte_level_vocab();  // GPT-2's byte alphabet, ids 0..255
  vocab["ab"] = 256;
  const nlohmann::json tok = {
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"a b"}}}}};
  fs::create_directories(dir);
  write_all(dir + "/my-bpe.json", tok.dump());
  write_all(dir + "/tokenizer_config.json", R"({"bos_token": "ab", "eos_token": "ab"})");
  return dir + "/my-bpe.json";
}

nlohmann::json read_json(const std::string& path) {
  return nlohmann::json::parse(read_all(path));
}

TEST(Layout, ExactFilesWithoutATokenizer) {
  for (ModelFamily f : {ModelFamily::Llama, ModelFamily::GPT2}) {
    SCOPED_TRACE(family_name(f));
    RunFixture r(f);
    const std::string dir = r.save(3);
    EXPECT_EQ(entries(dir), (std::set<std::string>{"manifest.json", "model",
                                                   "optimizer.safetensors", "trainer_state.json"}));
    EXPECT_EQ(entries(dir + "/model"), (std::set<std::string>{"config.json", "model.safetensors",
                                                              "generation_config.json"}));
    const nlohmann::json m = read_json(dir + "/manifest.json");
    EXPECT_EQ(m["format_version"], 3);
    std::set<std::string> listed;
    for (const auto& [k, v] : m["files"].items()) listed.insert(k);
    EXPECT_EQ(listed, (std::set<std::string>{"model/config.json", "model/generation_config.json",
                                             "model/model.safetensors", "optimizer.safetensors",
                                             "trainer_state.json"}));
    // What from_pretrained needs to pick the class and dtype; no tokenizer: no special ids.
    const nlohmann::json c = read_json(dir + "/model/config.json");
    EXPECT_EQ(c["architectures"][0],
              f == ModelFamily::GPT2 ? "GPT2LMHeadModel" : "LlamaForCausalLM");
    EXPECT_EQ(c["model_type"], f == ModelFamily::GPT2 ? "gpt2" : "llama");
    EXPECT_EQ(c["torch_dtype"], "float32");
    EXPECT_TRUE(c.contains("bos_token_id") && c["bos_token_id"].is_null());
    EXPECT_TRUE(c.contains("eos_token_id") && c["eos_token_id"].is_null());
    EXPECT_TRUE(read_json(dir + "/model/generation_config.json").is_object());
    EXPECT_NO_THROW(verify_checkpoint(dir));
  }
}

TEST(Layout, TokenizerTravelsInsideTheModelFolder) {
  RunFixture r;
  const std::string original = write_bpe_tokenizer(r.tmp.file("tok"));
  const std::vector<uint32_t> ids = load_tokenizer(original)->encode("ab ab");
  ASSERT_EQ(ids, (std::vector<uint32_t>{256, 32, 256}));  // control: the file is the BPE one
  r.cfg.data.tokenizer = original;
  const std::string dir = r.save(3);
  EXPECT_EQ(entries(dir + "/model"),
            (std::set<std::string>{"config.json", "generation_config.json", "model.safetensors",
                                   "tokenizer.json", "tokenizer_config.json"}));
  EXPECT_EQ(read_all(dir + "/model/tokenizer.json"), read_all(original));
  EXPECT_EQ(read_json(dir + "/model/config.json")["eos_token_id"], 256);
  EXPECT_EQ(read_json(dir + "/model/generation_config.json")["bos_token_id"], 256);
  EXPECT_TRUE(read_json(dir + "/manifest.json")["files"].contains("model/tokenizer.json"));

  // The original moved away: the checkpoint still names a tokenizer that loads, its own copy.
  fs::rename(r.tmp.file("tok"), r.tmp.file("tok-moved"));
  for (const std::string& p : {r.run, dir, dir + "/model"}) {
    SCOPED_TRACE(p);
    const ModelSource src = resolve_model_source(p);
    EXPECT_EQ(fs::path(src.tokenizer_path), fs::path(dir) / "model");
    EXPECT_EQ(load_tokenizer(src.tokenizer_path)->encode("ab ab"), ids);
  }

  // A damaged tokenizer file is the checkpoint's damage, caught by the manifest.
  std::string bytes = read_all(dir + "/model/tokenizer.json");
  bytes[bytes.size() / 2] ^= 1;
  write_all(dir + "/model/tokenizer.json", bytes);
  EXPECT_TRUE(has(error_of([&] { verify_checkpoint(dir); }),
                  dir + "/model/tokenizer.json fails its CRC32C check"));
}

// A tokenizer that only names its files, to check the names they get in the model folder.
class NamedFiles : public Tokenizer {
 public:
  NamedFiles(TokenizerKind k, std::vector<std::string> f) : kind_(k), files_(std::move(f)) {}
  TokenizerKind kind() const override { return kind_; }
  uint32_t vocab_size() const override { return 256; }
  std::vector<uint32_t> encode(std::string_view) const override { return {}; }
  std::string decode(std::span<const uint32_t>) const override { return ""; }
  std::optional<uint32_t> bos_id() const override { return std::nullopt; }
  std::optional<uint32_t> eos_id() const override { return std::nullopt; }
  std::vector<std::string> files() const override { return files_; }
  std::string describe() const override { return "named files"; }

 private:
  TokenizerKind kind_;
  std::vector<std::string> files_;
};

std::vector<std::string> names_of(TokenizerKind k, std::vector<std::string> files) {
  std::vector<std::string> out;
  for (const auto& [from, to] : tokenizer_file_names(NamedFiles(k, std::move(files))))
    out.push_back(to);
  return out;
}

TEST(Layout, TokenizerFilesGetTheNamesFromPretrainedReads) {
  using V = std::vector<std::string>;
  EXPECT_EQ(names_of(TokenizerKind::SentencePiece, {"/x/spm-8k.model"}), V{"tokenizer.model"});
  EXPECT_EQ(names_of(TokenizerKind::ByteLevelBpe, {"/x/gpt2.json", "/x/tokenizer_config.json"}),
            (V{"tokenizer.json", "tokenizer_config.json"}));
  EXPECT_EQ(names_of(TokenizerKind::ByteLevelBpe, {"/x/enc.json", "/x/merges.bpe"}),
            (V{"encoder.json", "vocab.bpe"}));
  EXPECT_TRUE(names_of(TokenizerKind::Byte, {}).empty());
  EXPECT_TRUE(has(error_of([] {
                    names_of(TokenizerKind::ByteLevelBpe, {"/x/a.json", "/y/tokenizer.json"});
                  }),
                  "same name 'tokenizer.json'"));
}

TEST(Layout, RunStepAndModelFolderAllResolve) {
  RunFixture r;
  const std::string dir = r.save(3);
  const std::string weights = dir + "/model/model.safetensors";
  for (const std::string& p : {r.run, dir, dir + "/model", dir + "/model/"}) {
    SCOPED_TRACE(p);
    const ModelSource src = resolve_model_source(p);
    EXPECT_EQ(fs::path(src.weights_path).lexically_normal(), fs::path(weights).lexically_normal());
    EXPECT_EQ(src.config.model.n_kv_head, 2);  // the saved job config, not a guess
    const InitSource init = resolve_init_source(p);
    EXPECT_EQ(fs::path(init.weights_path).lexically_normal(), fs::path(weights).lexically_normal());
    EXPECT_EQ(fs::path(init.config_path).lexically_normal(),
              fs::path(dir + "/model/config.json").lexically_normal());
  }
  EXPECT_EQ(resolve_model_source(dir + "/model").kind, ModelSourceKind::MartCheckpoint);
  // A model folder that is not inside a checkpoint is a plain Hugging Face folder.
  fs::create_directories(r.tmp.file("elsewhere"));
  fs::copy(dir + "/model", r.tmp.file("elsewhere/model"), fs::copy_options::recursive);
  EXPECT_EQ(resolve_model_source(r.tmp.file("elsewhere/model")).kind,
            ModelSourceKind::HuggingFaceFolder);
}

TEST(Layout, FormatTwoCheckpointVerifiesAndLoadsBitwise) {
  RunFixture r;
  fill_adam(*r.rig);
  const std::string dir = r.save(3);
  testutil::make_flat_checkpoint(dir);
  ASSERT_FALSE(fs::exists(dir + "/model"));
  EXPECT_EQ(read_json(dir + "/manifest.json")["format_version"], 2);
  EXPECT_EQ(verify_checkpoint(dir).state.step, 3);
  EXPECT_EQ(checkpoint_model_dir(dir), dir);
  EXPECT_EQ(resolve_model_source(r.run).weights_path, dir + "/model.safetensors");

  ExecutorRig b(tiny_model(), 2, 8, {}, {}, /*seed=*/8);
  ASSERT_NE(all_weights(b), all_weights(*r.rig));  // control: the load has something to change
  ASSERT_NE(all_adam(b), all_adam(*r.rig));
  EXPECT_EQ(load_checkpoint(dir, b.spec, *b.states).step, 3);
  EXPECT_EQ(all_weights(b), all_weights(*r.rig));
  EXPECT_EQ(all_adam(b), all_adam(*r.rig));

  // Format 2 still needs its four files: a damaged flat config.json is caught.
  edit_json(dir + "/config.json", [](nlohmann::json& j) { j["rope_theta"] = 500000; });
  EXPECT_TRUE(has(error_of([&] { verify_checkpoint(dir); }),
                  "corrupt checkpoint: " + dir + "/config.json"));
}

// Re-seals the manifest after `fn` edits its file table, as a tool that knew the format could.
void edit_table(const std::string& dir, const std::function<void(nlohmann::json&)>& fn) {
  edit_json(dir + "/manifest.json", [&](nlohmann::json& j) {
    fn(j["files"]);
    const std::string canon =
        nlohmann::json{{"format_version", j["format_version"]}, {"files", j["files"]}}.dump();
    j["manifest_crc32c"] = crc32c(canon.data(), canon.size());
  });
}

TEST(Layout, ManifestPathsStayInsideTheCheckpoint) {
  RunFixture r;
  const std::string dir = r.save(3);
  const std::string original = read_all(dir + "/manifest.json");
  write_all(r.tmp.file("run/outside"), "x");
  for (const char* bad : {"../outside", "model/../../outside", "model/sub/x", "model/", "other"}) {
    SCOPED_TRACE(bad);
    write_all(dir + "/manifest.json", original);
    edit_table(dir, [&](nlohmann::json& files) { files[bad] = files["trainer_state.json"]; });
    EXPECT_TRUE(has(error_of([&] { verify_checkpoint(dir); }),
                    std::string("lists '") + bad + "', which is not a checkpoint file"));
  }
  // A required file dropped from the table, the table re-sealed: still refused.
  write_all(dir + "/manifest.json", original);
  edit_table(dir, [](nlohmann::json& files) { files.erase("model/generation_config.json"); });
  EXPECT_TRUE(
      has(error_of([&] { verify_checkpoint(dir); }), "does not list model/generation_config.json"));
  write_all(dir + "/manifest.json", original);
  EXPECT_NO_THROW(verify_checkpoint(dir));  // control
}

}  // namespace
}  // namespace mart::ckpt_test
