// `mart train` under the faults a cluster job meets, end to end: a real SIGTERM (exit 75, then a
// bitwise-identical resume), a second run on a busy run directory, a Slurm job whose end time has
// passed, a file-size limit (RLIMIT_FSIZE via `ulimit -f`, no root needed) on metrics.jsonl, and
// the command-line rules (--stop-after, --overwrite/--resume, the documented exit status).
#include <gtest/gtest.h>

#include "tests/integration/integ_util.h"

namespace mart::integ {
namespace {

// A one-block model: a step takes about a millisecond.
const std::string kTiny =
    " train --no-progress --set train.warmup_steps=1 --set train.eval_every=0 "
    "--set model.n_layer=1 --set model.d_model=32 --set model.d_ff=64 --set model.n_head=2 "
    "--set model.n_kv_head=1 --set train.micro_batch=2 --set train.seq_len=16";

// Runs `script` with bash (for `&`, `wait`, `ulimit`, `trap`).
CmdResult bash(const TempDir& tmp, const std::string& script) {
  write_all(tmp.file("script.sh"), "set -u\n" + script);
  return run_cmd("bash " + sh_quote(tmp.file("script.sh")));
}

// Starts a long run in the background and waits (generously: a hang guard, not a timing
// assumption) until metrics.jsonl has `lines` lines; $pid is the run.
std::string start_long_run(const std::string& run, int lines) {
  return mart_bin() + kTiny + " --set train.steps=200000 --run-dir " + sh_quote(run) + " > " +
         sh_quote(run + ".log") + " 2>&1 &\npid=$!\n" +
         "for i in $(seq 1 6000); do\n"
         "  n=$(cat " +
         sh_quote(run + "/metrics.jsonl") + " 2>/dev/null | wc -l)\n" + "  [ \"$n\" -ge " +
         std::to_string(lines) + " ] && break\n  sleep 0.1\ndone\n";
}

int rc_of(const std::string& out) {
  const size_t at = out.rfind("rc=");
  return at == std::string::npos ? -1 : std::stoi(out.substr(at + 3));
}

// Before the fix SIGTERM killed the run with no checkpoint (everything since the last periodic
// one lost; with checkpoint_every 0, the whole run).
TEST(PreemptCli, SigtermStopsWithACheckpointExit75AndResumesBitwise) {
  TempDir tmp;
  const std::string run = tmp.file("run");
  CmdResult r = bash(tmp, start_long_run(run, 3) + "kill -TERM $pid\nwait $pid\necho rc=$?\n");
  const std::string log = read_all(run + ".log");
  ASSERT_EQ(rc_of(r.output), 75) << r.output << log;
  EXPECT_TRUE(has(log, "SIGTERM received"));
  EXPECT_TRUE(has(log, "stopped by SIGTERM at step"));
  EXPECT_TRUE(has(log, "resume with: mart train --resume " + run));
  const int k = static_cast<int>(read_metrics(run).size());
  ASSERT_GE(k, 3);
  EXPECT_EQ(fs::path(latest_dir(run)).filename(),
            "step_" + std::string(8 - std::to_string(k).size(), '0') + std::to_string(k));

  // Resume 5 more steps; the same config run straight to k + 5 must give the same doubles.
  r = run_cmd(mart_bin() + " train --no-progress --resume " + sh_quote(run) + " --stop-after 5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string n = std::to_string(k + 5);
  r = run_cmd(mart_bin() + kTiny + " --set train.steps=200000 --stop-after " + n + " --run-dir " +
              sh_quote(tmp.file("ref")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::vector<double> got = losses_of(read_metrics(run)),
                            want = losses_of(read_metrics(tmp.file("ref")));
  ASSERT_EQ(got.size(), static_cast<size_t>(k + 5));
  EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(double)), 0);
  // Negative control: another seed gives other losses, and the comparison sees it.
  r = run_cmd(mart_bin() + kTiny + " --set train.steps=200000 --set train.seed=43 --stop-after " +
              n + " --run-dir " + sh_quote(tmp.file("other")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(losses_of(read_metrics(tmp.file("other"))), want);
}

// Before the fix a second run on the same directory silently replaced the first one's files.
TEST(PreemptCli, SecondRunOnABusyDirectoryIsRefusedNamingThePid) {
  TempDir tmp;
  const std::string run = tmp.file("run");
  CmdResult r =
      bash(tmp, start_long_run(run, 1) + mart_bin() + kTiny + " --set train.steps=5 --run-dir " +
                    sh_quote(run) +
                    "\necho second=$? first=$pid\nkill -TERM $pid\nwait $pid\necho rc=$?\n");
  EXPECT_TRUE(has(r.output, "second=1")) << r.output;
  const size_t at = r.output.find("first=");
  ASSERT_NE(at, std::string::npos);
  const std::string pid = r.output.substr(at + 6, r.output.find('\n', at) - at - 6);
  EXPECT_TRUE(has(r.output, "is in use by another run (pid " + pid + " on host"));
  EXPECT_EQ(rc_of(r.output), 75) << r.output;
}

TEST(PreemptCli, PassedSlurmEndTimeStopsBeforeTheFirstStep) {
  TempDir tmp;
  const std::string run = tmp.file("run");
  CmdResult r =
      bash(tmp, "SLURM_JOB_END_TIME=$(( $(date +%s) - 60 )) " + mart_bin() + kTiny +
                    " --set train.steps=50 --run-dir " + sh_quote(run) + "\necho rc=$?\n");
  EXPECT_EQ(rc_of(r.output), 75) << r.output;
  EXPECT_TRUE(has(r.output, "to finish before the time limit"));
  EXPECT_EQ(read_metrics(run).size(), 0u);
  // A far end time changes nothing.
  r = bash(tmp, "SLURM_JOB_END_TIME=$(( $(date +%s) + 86400 )) " + mart_bin() +
                    " train --no-progress --resume " + sh_quote(run) + "\necho rc=$?\n");
  EXPECT_EQ(rc_of(r.output), 0) << r.output;
  EXPECT_EQ(read_metrics(run).size(), 50u);
}

// A real OS write failure without root: RLIMIT_FSIZE (SIGXFSZ ignored so write(2) returns EFBIG).
// Before the fix the failed metrics writes were silent and training went on.
TEST(PreemptCli, FileSizeLimitOnMetricsStopsWithANamedErrorAfterACheckpoint) {
  TempDir tmp;
  const std::string run = tmp.file("run");
  CmdResult r =
      bash(tmp, "trap '' XFSZ\nulimit -f 400\n" + mart_bin() + kTiny +
                    " --set train.steps=5000 --run-dir " + sh_quote(run) + "\necho rc=$?\n");
  EXPECT_EQ(rc_of(r.output), 1) << r.output;
  EXPECT_TRUE(has(r.output, "cannot write '" + run + "/metrics.jsonl': File too large"));
  EXPECT_TRUE(has(r.output, "a checkpoint of step")) << r.output;
  // 400 KiB hold the checkpoint's files (about 360 kB) but not 5000 metrics lines.
  const std::string text = read_all(run + "/metrics.jsonl");
  const auto whole = std::count(text.begin(), text.end(), '\n');
  EXPECT_GT(whole, 10);
  EXPECT_LT(whole, 5000);
  // Without the limit the run resumes and finishes.
  r = run_cmd(mart_bin() + " train --no-progress --resume " + sh_quote(run));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(read_all(run + "/summary.json"))["steps"], 5000);
}

TEST(PreemptCli, CommandLineRules) {
  TempDir tmp;
  CmdResult r = run_cmd(mart_bin() + " train --help");
  for (const char* s : {"--overwrite", "--extend", "75 (EX_TEMPFAIL)", "train.max_time",
                        "train.stop_signals", "SLURM_JOB_END_TIME"})
    EXPECT_TRUE(has(r.output, s));
  // Before the fix --stop-after -5 was accepted (and ran the whole job).
  r = run_cmd(mart_bin() + kTiny + " --stop-after -5 --run-dir " + sh_quote(tmp.file("a")));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.output, "--stop-after -5: must be >= 0"));
  EXPECT_FALSE(fs::exists(tmp.file("a")));
  r = run_cmd(mart_bin() + " train --resume " + sh_quote(tmp.file("a")) + " --overwrite");
  EXPECT_TRUE(has(r.output, "pass one of them"));
  r = run_cmd(mart_bin() + kTiny + " --extend --run-dir " + sh_quote(tmp.file("a")));
  EXPECT_TRUE(has(r.output, "--extend continues a finished run"));
  // --stop-after 0 is a valid request: no step, a checkpoint, exit 0.
  r = run_cmd(mart_bin() + kTiny + " --stop-after 0 --run-dir " + sh_quote(tmp.file("b")));
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace
}  // namespace mart::integ
