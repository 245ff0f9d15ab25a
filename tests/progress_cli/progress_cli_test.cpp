// The progress line end to end: the `mart` binary with MART_PROGRESS_DELAY_S=0 shows each phase
// tag ([prepare-data], [plan], [train], [eval], [checkpoint], [profile]) and an ETA on stderr;
// --no-progress silences all of it (the negative control); stdout (the plan itself) is
// byte-identical with and without the line.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "tests/common/test_util.h"

namespace mart {
namespace {

using testutil::has;
using testutil::read_all;
using testutil::TempDir;
using testutil::write_all;

struct CmdRun {
  int exit_code = -1;
  std::string out, err;  // stdout, stderr (separately: the plan must not depend on progress)
};

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs `mart ARGS` with MART_PROGRESS_DELAY_S=0 (progress shown at once) and one thread.
CmdRun mart(const TempDir& tmp, const std::string& args) {
  const std::string err_path = tmp.file("stderr.txt");
  const std::string cmd = "env MART_PROGRESS_DELAY_S=0 OMP_NUM_THREADS=1 " MART_BINARY_DIR
                          "/mart " +
                          args + " 2>" + quote(err_path);
  CmdRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.err = read_all(err_path);
  return r;
}

// Text of a few hundred KiB (the byte tokenizer: no model files needed).
std::string some_text() {
  std::string t;
  for (int i = 0; t.size() < (300u << 10); ++i)
    t += "line " + std::to_string(i) + ": the quick brown fox jumps over the lazy dog.\n";
  return t;
}

TEST(ProgressCli, EveryCommandWithALineOffersNoProgress) {
  TempDir tmp("progress_help");
  for (const char* cmd : {"train", "eval", "plan", "profile", "prepare-data"}) {
    const CmdRun r = mart(tmp, std::string(cmd) + " --help");
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_TRUE(has(r.out, "--no-progress")) << cmd << ":\n" << r.out;
  }
  // Negative control: a command without a progress line has no such flag.
  EXPECT_FALSE(has(mart(tmp, "generate --help").out, "--no-progress"));
}

TEST(ProgressCli, PrepareDataShowsBytesAndEtaAndNoProgressSilencesIt) {
  TempDir tmp("progress_prep");
  write_all(tmp.file("in.txt"), some_text());
  CmdRun r = mart(tmp, "prepare-data " + quote(tmp.file("in.txt")) + " -o " + quote(tmp.file("a")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.err, "[prepare-data] ")) << r.err;
  EXPECT_TRUE(has(r.err, "KiB/")) << r.err;  // bytes done/total
  EXPECT_TRUE(has(r.err, "ETA ")) << r.err;
  CmdRun q = mart(tmp, "prepare-data --no-progress " + quote(tmp.file("in.txt")) + " -o " +
                           quote(tmp.file("b")));
  ASSERT_EQ(q.exit_code, 0) << q.err;
  EXPECT_FALSE(has(q.err, "[prepare-data]")) << q.err;
  EXPECT_FALSE(has(q.err, "ETA")) << q.err;
  EXPECT_EQ(read_all(tmp.file("a.bin")), read_all(tmp.file("b.bin")));
}

TEST(ProgressCli, PlanShowsCandidatesAndThePlanIsByteIdenticalWithout) {
  TempDir tmp("progress_plan");
  const std::string job = "--set model=tiny-llama --gpu-mem 64MiB ";
  for (const char* fmt : {"", "--json ", "--explain "}) {
    CmdRun with = mart(tmp, "plan " + job + std::string(fmt));
    CmdRun without = mart(tmp, "plan --no-progress " + job + std::string(fmt));
    ASSERT_EQ(with.exit_code, 0) << with.err;
    ASSERT_EQ(without.exit_code, 0) << without.err;
    EXPECT_TRUE(has(with.err, "[plan] ")) << with.err;
    EXPECT_TRUE(has(with.err, " candidates | ETA ")) << with.err;
    EXPECT_FALSE(has(without.err, "[plan]")) << without.err;
    EXPECT_FALSE(has(without.err, "ETA")) << without.err;
    EXPECT_FALSE(with.out.empty());
    EXPECT_EQ(with.out, without.out) << "the plan changed with the progress line (" << fmt << ")";
  }
}

const char* kTinyTrain =
    " --set model=tiny-llama --set train.micro_batch=2 --set train.seq_len=32"
    " --set train.steps=4 --set train.warmup_steps=1 --set train.log_every=1"
    " --set train.eval_every=2 --set train.eval_sequences=4 --set train.checkpoint_every=2";

TEST(ProgressCli, TrainShowsTrainEvalAndCheckpointPhases) {
  TempDir tmp("progress_train");
  CmdRun r = mart(tmp, "train --run-dir " + quote(tmp.file("run")) + kTinyTrain);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.err, "[train] step 1/4 | loss ")) << r.err;
  EXPECT_TRUE(has(r.err, "[train] step 4/4 | loss ")) << r.err;
  EXPECT_TRUE(has(r.err, "[eval] 4/4 sequences | ETA ")) << r.err;
  EXPECT_TRUE(has(r.err, "[checkpoint] ")) << r.err;
  EXPECT_TRUE(has(r.err, "/s | ETA ")) << r.err;  // the checkpoint's byte rate
  EXPECT_TRUE(has(r.err, "mart: done: 4 steps")) << r.err;
  // Negative control: the same run with --no-progress shows none of it.
  CmdRun q = mart(tmp, "train --no-progress --run-dir " + quote(tmp.file("run2")) + kTinyTrain);
  ASSERT_EQ(q.exit_code, 0) << q.err;
  for (const char* tag : {"[train]", "[eval]", "[checkpoint]", "ETA"})
    EXPECT_FALSE(has(q.err, tag)) << tag << " in\n" << q.err;
  EXPECT_TRUE(has(q.err, "mart: done: 4 steps")) << q.err;
  // The progress line changes nothing the run computes: the same final weights.
  const std::string w = "/checkpoints/step_00000004/model/model.safetensors";
  EXPECT_EQ(read_all(tmp.file("run") + w), read_all(tmp.file("run2") + w));
}

TEST(ProgressCli, EvalShowsSequencesAndTheLossIsTheSameWithout) {
  TempDir tmp("progress_eval");
  write_all(tmp.file("in.txt"), some_text());
  ASSERT_EQ(mart(tmp, "prepare-data --no-progress " + quote(tmp.file("in.txt")) + " -o " +
                          quote(tmp.file("d")))
                .exit_code,
            0);
  const CmdRun t = mart(tmp, "train --no-progress --run-dir " + quote(tmp.file("run")) +
                                 " --set model=tiny-llama --set model.vocab_size=256"
                                 " --set data.source=shards --set data.train_pattern=" +
                                 quote(tmp.file("d.bin")) +
                                 " --set train.micro_batch=2 --set train.seq_len=32"
                                 " --set train.steps=2 --set train.warmup_steps=1"
                                 " --set train.eval_every=0");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  const std::string args =
      quote(tmp.file("run")) + " " + quote(tmp.file("d_val.bin")) + " --sequences 6";
  CmdRun r = mart(tmp, "eval " + args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.err, "[eval] 6/6 sequences | ")) << r.err;
  EXPECT_TRUE(has(r.err, "ETA ")) << r.err;
  CmdRun q = mart(tmp, "eval --no-progress " + args);
  ASSERT_EQ(q.exit_code, 0) << q.err;
  EXPECT_FALSE(has(q.err, "[eval]")) << q.err;
  EXPECT_FALSE(has(q.err, "ETA")) << q.err;
  EXPECT_TRUE(has(r.out, "loss ")) << r.out;
  EXPECT_EQ(r.out, q.out);
}

TEST(ProgressCli, MemoryModeAutoShowsProfileAndPlan) {
  TempDir tmp("progress_auto");
  CmdRun r = mart(tmp, "train --run-dir " + quote(tmp.file("run")) + kTinyTrain +
                           " --set memory.mode=auto --set memory.device_capacity=256MiB");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.err, "[profile] ")) << r.err;
  EXPECT_TRUE(has(r.err, " measurements | ")) << r.err;
  EXPECT_TRUE(has(r.err, "[plan] ")) << r.err;
  CmdRun q = mart(tmp, "train --no-progress --run-dir " + quote(tmp.file("run2")) + kTinyTrain +
                           " --set memory.mode=auto --set memory.device_capacity=256MiB");
  ASSERT_EQ(q.exit_code, 0) << q.err;
  EXPECT_FALSE(has(q.err, "[profile]")) << q.err;
  EXPECT_FALSE(has(q.err, "[plan]")) << q.err;
}

TEST(ProgressCli, ProfileShowsMeasurements) {
  TempDir tmp("progress_profile");
  CmdRun r = mart(tmp, "profile -o " + quote(tmp.file("p.json")) +
                           " --reps 1 --set model=tiny-llama --set train.micro_batch=2"
                           " --set train.seq_len=32");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.err, "[profile] 1/")) << r.err;
  EXPECT_TRUE(has(r.err, "H2D/D2H copies")) << r.err;
  EXPECT_TRUE(has(r.err, "ETA ")) << r.err;
  CmdRun q = mart(tmp, "profile --no-progress -o " + quote(tmp.file("q.json")) +
                           " --reps 1 --set model=tiny-llama --set train.micro_batch=2"
                           " --set train.seq_len=32");
  ASSERT_EQ(q.exit_code, 0) << q.err;
  EXPECT_FALSE(has(q.err, "[profile]")) << q.err;
  EXPECT_FALSE(has(q.err, "ETA")) << q.err;
}

}  // namespace
}  // namespace mart
