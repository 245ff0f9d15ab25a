// Every input of the `mart` CLI is checked before work starts (issue 13, "every input checked"):
// out-of-limit config values, bad job names, non-regular files (FIFOs, directories, devices),
// bad tokens in any shard, prepare-data outputs that would destroy the input, and count options.
// Each case was accepted before (bad_alloc, a hang, a run that died mid-training or wrote
// outside runs/); FIFO cases run under `timeout 60` so a regression fails instead of hanging.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "runtime/data/token_shard.h"
#include "tests/integration/integ_util.h"

namespace mart::integ {
namespace {

// `mart ARGS` with a hang guard; exit 124 means it blocked for 60 s.
CmdResult mart(const std::string& args) {
  return run_cmd("timeout 60 " + mart_bin() + " " + args);
}

// A small, fast job's --set flags.
const std::string kTiny =
    " --no-progress --set train.steps=2 --set train.warmup_steps=1 --set train.eval_every=0"
    " --set model.n_layer=1 --set model.d_model=32 --set model.d_ff=64 --set model.n_head=2"
    " --set model.n_kv_head=1";

void expect_refused(const CmdResult& r, const std::vector<std::string>& needles) {
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.exit_code, 124) << "blocked for 60 s: " << r.output;
  EXPECT_TRUE(has(r.output, "mart: error:"));
  for (const std::string& n : needles) EXPECT_TRUE(has(r.output, n));
  for (const char* raw : {"bad_alloc", "json.exception", "filesystem error"})
    EXPECT_FALSE(has(r.output, raw)) << r.output;
}

TEST(Inputs, OutOfLimitConfigValuesAreRefusedBeforeTraining) {
  TempDir tmp;
  const std::string run = tmp.file("run");
  expect_refused(
      mart("train --run-dir " + sh_quote(run) + kTiny + " --set model.n_layer=2147483647"),
      {"model.n_layer = 2147483647 is above its limit", "[1, 1024]"});
  expect_refused(mart("train --run-dir " + sh_quote(run) + kTiny + " --set model.norm_eps=3e38"),
                 {"model.norm_eps = 3e+38"});
  expect_refused(mart("train --run-dir " + sh_quote(run) + kTiny +
                      " --set train.eval_every=1 --set train.eval_batches=2147483647"),
                 {"train.eval_batches = 2147483647"});
  write_all(tmp.file("big.yaml"),
            "model: {n_layer: 1024, d_model: 65536, n_head: 64, "
            "n_kv_head: 64, d_ff: 1048576}\n");
  expect_refused(mart("train " + sh_quote(tmp.file("big.yaml")) + " --run-dir " + sh_quote(run)),
                 {"model parameters = ", "16 TiB"});
  expect_refused(mart("plan " + sh_quote(tmp.file("big.yaml"))), {"model parameters = "});
  EXPECT_FALSE(fs::exists(run)) << "a refused config created the run directory";
  // Negative control: the same command line within the limits trains.
  const CmdResult ok = mart("train --run-dir " + sh_quote(run) + kTiny);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
}

TEST(Inputs, JobNamesThatCannotNameADirectoryAreRefusedAtLoad) {
  TempDir tmp;
  // `name: ../../x` and the default run directory runs/<time>_<name>: would escape runs/.
  const CmdResult esc = run_cmd("cd " + sh_quote(tmp.path().string()) + " && timeout 60 " +
                                mart_bin() + " train" + kTiny + " --set name=../../x");
  expect_refused(esc, {"contains '/'"});
  EXPECT_FALSE(fs::exists(tmp.file("runs"))) << "a refused name created runs/";
  write_all(tmp.file("latin1.yaml"), "name: caf\xe9\n");
  expect_refused(mart("train " + sh_quote(tmp.file("latin1.yaml")) + " --run-dir " +
                      sh_quote(tmp.file("run")) + kTiny),
                 {"name is not valid UTF-8 (byte 0xe9 at offset 3)"});
  EXPECT_FALSE(fs::exists(tmp.file("run")));
}

TEST(Inputs, FifoDirectoryAndDeviceInputsAreRefusedNotRead) {
  TempDir tmp;
  const std::string fifo = tmp.file("pipe");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string q = sh_quote(fifo);
  const std::string fifo_msg = "is not a regular file but a FIFO";
  expect_refused(mart("train " + q + kTiny + " --run-dir " + sh_quote(tmp.file("r1"))),
                 {"job config '" + fifo + "' " + fifo_msg});
  expect_refused(mart("plan " + q), {fifo_msg});
  expect_refused(mart("plan --hardware " + sh_quote(fifo + ".json")), {"profile"});
  ASSERT_EQ(::mkfifo((fifo + ".json").c_str(), 0600), 0);
  expect_refused(mart("plan --hardware " + sh_quote(fifo + ".json")), {fifo_msg});
  ASSERT_EQ(::mkfifo((fifo + ".yaml").c_str(), 0600), 0);
  expect_refused(mart("plan --hardware " + sh_quote(fifo + ".yaml")),
                 {"hardware description", fifo_msg});
  expect_refused(mart("prepare-data " + q + " -o " + sh_quote(tmp.file("o.bin"))), {fifo_msg});
  expect_refused(mart("train" + kTiny + " --run-dir " + sh_quote(tmp.file("r2")) +
                      " --set data.source=shards --set data.train_pattern=" + q),
                 {fifo_msg});
  expect_refused(mart("plan " + sh_quote(tmp.path().string())), {"but a directory"});
  expect_refused(mart("plan /dev/zero"), {"but a character device"});
}

// All shards, train and validation, are checked -- header and every token -- before step 1.
TEST(Inputs, ABadTokenInAnyShardFailsBeforeStepOne) {
  TempDir tmp;
  std::vector<uint32_t> good(600, 5), bad(600, 5);
  bad[123] = 4000;
  write_token_shard(tmp.file("train_0.bin"), good, TokenFormat::U16);
  write_token_shard(tmp.file("train_1.bin"), bad, TokenFormat::U16);
  write_token_shard(tmp.file("val_0.bin"), good, TokenFormat::U16);
  const std::string run = tmp.file("run");
  const std::string data =
      " --set data.source=shards --set model.vocab_size=256 --set "
      "train.seq_len=16 --set train.micro_batch=2";
  CmdResult r = mart("train --run-dir " + sh_quote(run) + kTiny + data +
                     " --set data.train_pattern=" + sh_quote(tmp.file("train_*.bin")));
  expect_refused(r, {tmp.file("train_1.bin"), "token 4000 at index 123"});
  EXPECT_FALSE(has(r.output, "step 1")) << r.output;
  EXPECT_FALSE(fs::exists(run + "/metrics.jsonl"));
  // The validation pattern too.
  write_token_shard(tmp.file("val_1.bin"), bad, TokenFormat::U16);
  r = mart("train --run-dir " + sh_quote(run) + kTiny + data +
           " --set data.train_pattern=" + sh_quote(tmp.file("train_0.bin")) +
           " --set data.val_pattern=" + sh_quote(tmp.file("val_*.bin")));
  expect_refused(r, {tmp.file("val_1.bin"), "token 4000 at index 123"});
  // Negative control: the good shards train.
  r = mart("train --run-dir " + sh_quote(run) + kTiny + data +
           " --set data.train_pattern=" + sh_quote(tmp.file("train_0.bin")) +
           " --set data.val_pattern=" + sh_quote(tmp.file("val_0.bin")));
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(Inputs, PrepareDataOutputs) {
  TempDir tmp;
  write_all(tmp.file("in.bin"), "some text that must survive");
  // -o naming its own input.
  expect_refused(mart("prepare-data " + sh_quote(tmp.file("in.bin")) + " -o " +
                      sh_quote(tmp.file("in.bin")) + " --val-fraction 0"),
                 {"is the input text"});
  EXPECT_EQ(read_all(tmp.file("in.bin")), "some text that must survive");
  // -o an existing directory: refused (before: wrote adir.bin beside it).
  fs::create_directories(tmp.file("adir"));
  expect_refused(
      mart("prepare-data " + sh_quote(tmp.file("in.bin")) + " -o " + sh_quote(tmp.file("adir"))),
      {"names a directory"});
  EXPECT_FALSE(fs::exists(tmp.file("adir.bin")));
  // A missing output folder is created.
  CmdResult r = mart("prepare-data " + sh_quote(tmp.file("in.bin")) + " -o " +
                     sh_quote(tmp.file("new/dir/t.bin")));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(tmp.file("new/dir/t.bin")));
  EXPECT_TRUE(fs::exists(tmp.file("new/dir/t_val.bin")));
}

TEST(Inputs, CountOptionsOfProfileAndPlan) {
  TempDir tmp;
  expect_refused(mart("profile --reps 0 -o " + sh_quote(tmp.file("p.json"))),
                 {"--reps 0: must be between 1 and 1000"});
  expect_refused(mart("profile --reps -5 -o " + sh_quote(tmp.file("p.json"))), {"--reps -5"});
  EXPECT_FALSE(fs::exists(tmp.file("p.json")));
  expect_refused(mart("plan --gpu-mem 0"), {"--gpu-mem 0: must be between 1 byte and 1PiB"});
  expect_refused(mart("plan --host-mem 0"), {"--host-mem 0"});
  // Negative control: an explicit size plans.
  const CmdResult ok = mart("plan --gpu-mem 24GiB");
  EXPECT_TRUE(ok.exit_code == 0 || ok.exit_code == 3) << ok.output;
}

// A profile JSON with a wrong type names the file and the key in mart's words.
TEST(Inputs, ProfileTypeErrorsNameFileAndKey) {
  TempDir tmp;
  const std::string prof = tmp.file("p.json");
  CmdResult r = mart("profile -o " + sh_quote(prof) +
                     " --reps 1 --set model.n_layer=1"
                     " --set model.d_model=32 --set model.d_ff=64 --set model.n_head=2"
                     " --set model.n_kv_head=1 --set train.seq_len=16 --set train.micro_batch=2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json j = nlohmann::json::parse(read_all(prof));
  j["model"]["n_layer"] = "two";
  write_all(prof, j.dump());
  expect_refused(mart("plan --hardware " + sh_quote(prof)),
                 {prof, "key 'model.n_layer' must be a 32-bit integer, got string \"two\""});
  j["model"]["n_layer"] = 1;
  j["micro_batches"][0]["io_bytes"] = -5;
  write_all(prof, j.dump());
  expect_refused(mart("plan --hardware " + sh_quote(prof)),
                 {"micro_batches[0].io_bytes' must be a non-negative integer"});
  j["micro_batches"][0]["io_bytes"] = 5;
  j["model"]["n_layer"] = 2147483647;
  write_all(prof, j.dump());
  expect_refused(mart("plan --hardware " + sh_quote(prof)), {"model.n_layer = 2147483647"});
}

}  // namespace
}  // namespace mart::integ
