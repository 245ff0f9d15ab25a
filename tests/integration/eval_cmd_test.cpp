// `mart eval CHECKPOINT DATA`: loss and perplexity of a trained run over a shard, the same number
// the run's own final validation reported for the same sequences.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "runtime/data/token_shard.h"
#include "tests/integration/integ_util.h"

namespace mart::integ {
namespace {

struct Printed {
  double loss = 0, perplexity = 0;
  unsigned long long sequences = 0, tokens = 0;
};

Printed parse(const std::string& out) {
  Printed p;
  const size_t at = out.find("loss ");
  EXPECT_NE(at, std::string::npos) << out;
  if (at == std::string::npos) return p;
  EXPECT_EQ(std::sscanf(out.c_str() + at, "loss %lf perplexity %lf sequences %llu tokens %llu",
                        &p.loss, &p.perplexity, &p.sequences, &p.tokens),
            4)
      << out;
  return p;
}

TEST(EvalCmd, EvaluatesARunOnAShardLikeItsOwnValidation) {
  TempDir tmp;
  // Byte-valued tokens with some structure, so a few steps of training move the loss.
  std::vector<uint32_t> tok(6000);
  for (size_t i = 0; i < tok.size(); ++i) tok[i] = static_cast<uint32_t>((i * 7 + i / 13) % 50);
  write_token_shard(tmp.file("train.bin"), tok, TokenFormat::U16);
  std::vector<uint32_t> val(tok.begin(), tok.begin() + 1601);  // 100 windows of 16
  write_token_shard(tmp.file("val.bin"), val, TokenFormat::U16);
  const std::string run = tmp.file("run");
  CmdResult r = run_cmd(mart_bin() + " train --no-progress --run-dir " + sh_quote(run) +
                        " --set model=tiny-llama --set model.vocab_size=64 --set data.source=shards"
                        " --set data.train_pattern=" +
                        sh_quote(tmp.file("train.bin")) +
                        " --set data.val_pattern=" + sh_quote(tmp.file("val.bin")) +
                        " --set train.seq_len=16 --set train.micro_batch=4 --set train.steps=6"
                        " --set train.eval_every=6 --set train.eval_sequences=10");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto m = read_metrics(run);
  ASSERT_EQ(m.size(), 6u);
  const double run_val = m.back().at("val_loss").get<double>();

  // The first 10 sequences of the validation shard: exactly what the run's last evaluation saw.
  r = run_cmd(mart_bin() + " eval " + sh_quote(run) + " " + sh_quote(tmp.file("val.bin")) +
              " --sequences 10");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Printed p = parse(r.output);
  EXPECT_EQ(p.sequences, 10u);
  EXPECT_EQ(p.tokens, 160u);
  EXPECT_NEAR(p.loss, run_val, 1e-6);
  EXPECT_NEAR(p.perplexity, std::exp(p.loss), 1e-3 * p.perplexity);

  // Every window (100) by default, in another micro-batch: another, larger token count.
  r = run_cmd(mart_bin() + " eval " + sh_quote(run) + " " + sh_quote(tmp.file("val.bin")) +
              " --set train.micro_batch=7");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const Printed all = parse(r.output);
  EXPECT_EQ(all.sequences, 100u);
  EXPECT_EQ(all.tokens, 1600u);
  EXPECT_GT(std::fabs(all.loss - p.loss), 1e-7);  // negative control: other tokens, other loss

  // The same weights as a Hugging Face folder (config.json + model.safetensors): the same loss.
  const std::string hf = tmp.file("hf");
  fs::create_directories(hf);
  for (const char* f : {"config.json", "model.safetensors"})
    fs::copy_file(latest_dir(run) + "/model/" + f, hf + "/" + f);
  r = run_cmd(mart_bin() + " eval " + sh_quote(hf) + " " + sh_quote(tmp.file("val.bin")) +
              " --sequences 10 --set train.seq_len=16 --set train.micro_batch=4");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(parse(r.output).loss, p.loss);

  // A missing checkpoint is named.
  r = run_cmd(mart_bin() + " eval " + sh_quote(tmp.file("nope")) + " " +
              sh_quote(tmp.file("val.bin")));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(has(r.output, tmp.file("nope"))) << r.output;
}

}  // namespace
}  // namespace mart::integ
