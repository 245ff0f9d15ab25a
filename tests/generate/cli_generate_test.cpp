// `mart generate` on a tiny run trained on Tiny Shakespeare (byte tokens): with and without the
// cache it prints the same text, the same seed gives the same text and another seed another,
// --stop cuts the output, and a prompt longer than the context is refused by name.
#include "tests/integration/integ_util.h"

namespace mart::integ {
namespace {

const std::string kShakespeare = MART_SOURCE_DIR "/../shared/data/tinyshakespeare.txt";

class CliGenerate : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(kShakespeare)) return;
    tmp_ = new TempDir("gen");
    const std::string bin = tmp_->file("ts.bin"), val = tmp_->file("ts_val.bin");
    CmdResult r =
        run_cmd(mart_bin() + " prepare-data " + sh_quote(kShakespeare) + " -o " + sh_quote(bin));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    run_ = tmp_->file("run");
    r = run_cmd(mart_bin() + " train --no-progress --run-dir " + sh_quote(run_) +
                " --set name=gen --set model=tiny-llama --set data.source=shards"
                " --set data.train_pattern=" +
                sh_quote(bin) + " --set data.val_pattern=" + sh_quote(val) +
                " --set train.micro_batch=8 --set train.seq_len=64 --set train.steps=60"
                " --set train.warmup_steps=4 --set train.lr=1e-2 --set train.eval_every=0");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  static void TearDownTestSuite() {
    delete tmp_;
    tmp_ = nullptr;
  }
  void SetUp() override {
    if (!fs::exists(kShakespeare)) GTEST_SKIP() << kShakespeare << " is not present (shared data)";
  }
  static CmdResult gen(const std::string& args) {
    return run_cmd(mart_bin() + " generate " + sh_quote(run_) + " " + args);
  }
  static TempDir* tmp_;
  static std::string run_;
};
TempDir* CliGenerate::tmp_ = nullptr;
std::string CliGenerate::run_;

TEST_F(CliGenerate, CacheAndNoCachePrintTheSameText) {
  for (const char* sampling : {"--temperature 0", "--temperature 0.9 --top-k 20 --seed 4"}) {
    const std::string args = std::string("--prompt 'ROMEO:' --max-tokens 40 --quiet ") + sampling;
    CmdResult a = gen(args), b = gen(args + " --no-cache");
    ASSERT_EQ(a.exit_code, 0) << a.output;
    ASSERT_EQ(b.exit_code, 0) << b.output;
    EXPECT_EQ(a.output, b.output) << sampling;
    EXPECT_EQ(a.output.rfind("ROMEO:", 0), 0u) << "the prompt comes first: " << a.output;
    EXPECT_GT(a.output.size(), 6u + 10u) << "the continuation is there";
  }
}

TEST_F(CliGenerate, TheSameSeedGivesTheSameTextAnotherSeedAnother) {
  const std::string args = "--prompt 'KING' --max-tokens 60 --temperature 1 --quiet --seed ";
  CmdResult a = gen(args + "1"), b = gen(args + "1"), c = gen(args + "2");
  ASSERT_EQ(a.exit_code, 0) << a.output;
  EXPECT_EQ(a.output, b.output);
  EXPECT_NE(a.output, c.output) << "negative control: the seed must matter";
}

TEST_F(CliGenerate, StopStringEndsTheOutputBeforeIt) {
  // Greedy output of this model repeats short lines, so a newline comes soon.
  CmdResult full = gen("--prompt 'ROMEO:' --max-tokens 40 --temperature 0 --quiet");
  ASSERT_EQ(full.exit_code, 0) << full.output;
  const size_t nl = full.output.find('\n', 6);
  ASSERT_NE(nl, std::string::npos) << full.output;
  CmdResult cut = gen("--prompt 'ROMEO:' --max-tokens 40 --temperature 0 --stop '\n'");
  ASSERT_EQ(cut.exit_code, 0) << cut.output;
  EXPECT_EQ(cut.output.substr(0, nl + 1), full.output.substr(0, nl) + "\n");
  EXPECT_TRUE(has(cut.output, "stopped: stop string"));
}

TEST_F(CliGenerate, PromptLongerThanTheContextIsRefused) {
  const std::string longp(600, 'a');  // tiny-llama's context is shorter
  CmdResult r = gen("--prompt " + longp);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.output, "context"));
  EXPECT_TRUE(has(r.output, "600 tokens"));
  CmdResult bad = gen("--prompt x --top-p 0");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(has(bad.output, "--top-p"));
}

}  // namespace
}  // namespace mart::integ

namespace mart::integ {
namespace {

// `mart plan --generate-len N` reports the KV cache generation adds: tiny-llama has 2 layers, 2 kv
// heads of size 16; fp32 on the CPU backend: 2 layers * (K, V) * 2*100*16*4 bytes (a multiple of
// the arena's 256-byte alignment).
TEST(CliPlan, ReportsTheKvCacheOfGeneration) {
  CmdResult r = run_cmd(mart_bin() +
                        " plan --set model=tiny-llama --set backend=cpu --generate-len 100 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output.substr(r.output.find('{')));
  EXPECT_EQ(j.at("generation").at("kv_cache_bytes").get<uint64_t>(), 2u * 2u * 12800u);
  EXPECT_EQ(j.at("generation").at("positions").get<int>(), 100);
}

}  // namespace
}  // namespace mart::integ
