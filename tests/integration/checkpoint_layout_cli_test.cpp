// A checkpoint's model/ folder carries the tokenizer the run used: after a short training with a
// SentencePiece tokenizer (trained here, under a name of its own), step_N/model/ holds exactly the
// Hugging Face files plus tokenizer.model, and `mart generate` works on it after the original
// tokenizer file was moved away. The control: the same checkpoint in the flat format 2, which
// only names the original file, fails once that file is gone.
#include <set>

#include "tests/common/flat_checkpoint.h"
#include "tests/integration/integ_util.h"

namespace mart::integ {
namespace {

const std::string kShakespeare = MART_SOURCE_DIR "/../shared/data/tinyshakespeare.txt";

std::set<std::string> entries(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

TEST(CheckpointLayoutCli, ModelFolderCarriesTheTokenizerAndGenerates) {
  if (!fs::exists(kShakespeare)) GTEST_SKIP() << kShakespeare << " is not present (shared data)";
  TempDir tmp("layout");
  write_all(tmp.file("in.txt"), read_all(kShakespeare).substr(0, 50000));
  const std::string tok = tmp.file("tok/spm-500.model");
  CmdResult r = run_cmd(mart_bin() + " train-tokenizer " + sh_quote(tmp.file("in.txt")) + " -o " +
                        sh_quote(tok) + " --vocab-size 500 --type unigram");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string bin = tmp.file("data/ts.bin");
  r = run_cmd(mart_bin() + " prepare-data " + sh_quote(tmp.file("in.txt")) + " -o " +
              sh_quote(bin) + " --tokenizer " + sh_quote(tok));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string run = tmp.file("run");
  r = run_cmd(mart_bin() + " train --no-progress --run-dir " + sh_quote(run) +
              " --set name=layout --set model=tiny-llama --set model.vocab_size=512"
              " --set data.source=shards --set data.train_pattern=" +
              sh_quote(bin) + " --set data.val_pattern=" + sh_quote(tmp.file("data/ts_val.bin")) +
              " --set data.tokenizer=" + sh_quote(tok) +
              " --set train.micro_batch=4 --set train.seq_len=32 --set train.steps=3"
              " --set train.eval_every=0");
  ASSERT_EQ(r.exit_code, 0) << r.output;

  const std::string ckpt = latest_dir(run);
  EXPECT_EQ(entries(ckpt), (std::set<std::string>{"manifest.json", "model", "optimizer.safetensors",
                                                  "trainer_state.json"}));
  EXPECT_EQ(entries(ckpt + "/model"),
            (std::set<std::string>{"config.json", "generation_config.json", "model.safetensors",
                                   "tokenizer.model"}));
  EXPECT_EQ(read_all(ckpt + "/model/tokenizer.model"), read_all(tok));

  fs::rename(tmp.file("tok"), tmp.file("tok-moved"));
  const std::string args = " --prompt 'ROMEO:' --max-tokens 8 --seed 1";
  for (const std::string& where : {ckpt + "/model", ckpt, run}) {
    SCOPED_TRACE(where);
    r = run_cmd(mart_bin() + " generate " + sh_quote(where) + args);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(has(r.output, "ROMEO:")) << r.output;
  }

  // Control: format 2 has no copy and names the moved original.
  testutil::make_flat_checkpoint(ckpt);
  r = run_cmd(mart_bin() + " generate " + sh_quote(ckpt) + args);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(has(r.output, "spm-500.model' does not exist")) << r.output;
}

}  // namespace
}  // namespace mart::integ
