// A user command as a reward source (runtime/rlhf/reward_command.h, shell_command.h): a round trip
// through /bin/sh and python3 scorers, every error path (exit status with stderr, a bad line, too
// few and too many lines, a timeout), a command that writes before it reads a large input
// (no deadlock), and no zombie left behind after any of them.
#include "runtime/rlhf/reward_command.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "nlohmann/json.hpp"
#include "runtime/rlhf/shell_command.h"
#include "tests/common/test_util.h"

namespace mart {
namespace {

using testutil::error_of;
using testutil::has;
using V = std::vector<int32_t>;

// Fails when this process has a child left (running or a zombie).
void expect_no_children() {
  int st = 0;
  errno = 0;
  EXPECT_EQ(::waitpid(-1, &st, WNOHANG), -1) << "a child process was left behind";
  EXPECT_EQ(errno, ECHILD);
}

struct Batch {
  std::vector<V> prompts, responses;
  std::vector<RewardSample> samples() const {
    std::vector<RewardSample> s;
    for (size_t i = 0; i < prompts.size(); ++i) s.push_back({prompts[i], responses[i]});
    return s;
  }
};

Batch small_batch() {
  return {{{1, 2}, {3}, {4, 5, 6}}, {{7, 7, 1, 2}, {}, {7}}};
}

RewardCommandOptions cmd(const std::string& c, double timeout = 20) {
  RewardCommandOptions o;
  o.command = c;
  o.timeout_s = timeout;
  return o;
}

TEST(RewardCommand, InputLinesCarryIdsAndTextWhenADecoderIsGiven) {
  const Batch b = small_batch();
  RewardCommandOptions o = cmd("true");
  const std::string plain = reward_command_input(b.samples(), o);
  EXPECT_EQ(plain.substr(0, plain.find('\n')),
            R"({"index":0,"prompt_ids":[1,2],"response_ids":[7,7,1,2]})");
  o.decode = [](std::span<const int32_t> ids) {
    std::string s;
    for (int32_t i : ids) s += static_cast<char>(i == 7 ? '\xff' : 'a' + i);  // 7: invalid UTF-8
    return s;
  };
  const std::string text = reward_command_input(b.samples(), o);
  const auto j = nlohmann::json::parse(text.substr(0, text.find('\n')));
  EXPECT_EQ(j["prompt"], "bc");
  EXPECT_EQ(j["response"],
            "\xEF\xBF\xBD\xEF\xBF\xBD"
            "bc");  // U+FFFD twice
}

// The python3 scorer computes the target fraction of id 7 and echoes the text length; the sh one
// answers with bare numbers.
TEST(RewardCommand, PythonAndShellScorersRoundTrip) {
  const Batch b = small_batch();
  RewardCommandOptions o =
      cmd("python3 -c 'import sys, json\n"
          "for line in sys.stdin:\n"
          "    s = json.loads(line); r = s[\"response_ids\"]\n"
          "    f = r.count(7) / len(r) if r else 0.0\n"
          "    print(json.dumps({\"reward\": f + 10 * len(s.get(\"response\", \"\")), \"i\": "
          "s[\"index\"]}))'");
  EXPECT_EQ(run_reward_command(b.samples(), o), (std::vector<double>{0.5, 0.0, 1.0}));
  o.decode = [](std::span<const int32_t> ids) { return std::string(ids.size(), 'x'); };
  EXPECT_EQ(run_reward_command(b.samples(), o), (std::vector<double>{40.5, 0.0, 11.0}));
  // sh: one number per input line, numbered from 1.
  EXPECT_EQ(run_reward_command(b.samples(), cmd("n=0; while read -r l; do n=$((n+1)); "
                                                "echo $n.5; done")),
            (std::vector<double>{1.5, 2.5, 3.5}));
  EXPECT_EQ(run_reward_command({}, cmd("cat")), std::vector<double>{});
  expect_no_children();
}

TEST(RewardCommand, AFailingCommandNamesItsExitStatusAndStderr) {
  const std::string e = error_of([] {
    run_reward_command(small_batch().samples(),
                       cmd("cat >/dev/null; echo 'scorer: model file missing' >&2; exit 3"));
  });
  EXPECT_TRUE(has(e, "`cat >/dev/null; echo 'scorer: model file missing' >&2; exit 3`"));
  EXPECT_TRUE(has(e, "exited with status 3"));
  EXPECT_TRUE(has(e, "scorer: model file missing"));
  EXPECT_TRUE(has(error_of([] { run_reward_command(small_batch().samples(), cmd("kill -9 $$")); }),
                  "killed by signal 9"));
  expect_no_children();
}

TEST(RewardCommand, ABadLineIsNamedWithItsNumber) {
  const Batch batch = small_batch();
  const auto s = batch.samples();
  const std::string e = error_of([&] { run_reward_command(s, cmd("printf '1\\nabc\\n3\\n'")); });
  EXPECT_TRUE(has(e, "wrote line 2 'abc', which is not JSON"));
  EXPECT_TRUE(has(error_of([&] { run_reward_command(s, cmd("printf '1\\n2\\n\"x\"\\n'")); }),
                  "line 3 '\"x\"', whose reward is not a number"));
  EXPECT_TRUE(has(error_of([&] { run_reward_command(s, cmd("printf '1\\n{\"r\": 2}\\n3\\n'")); }),
                  "line 2 '{\"r\": 2}', an object without \"reward\""));
  // The control: the same shapes, all valid.
  EXPECT_EQ(run_reward_command(s, cmd("printf '1\\n{\"reward\": 2}\\n3e0\\n'")),
            (std::vector<double>{1, 2, 3}));
  expect_no_children();
}

TEST(RewardCommand, TooFewOrTooManyLinesAreRefused) {
  const Batch batch = small_batch();
  const auto s = batch.samples();
  EXPECT_TRUE(has(error_of([&] { run_reward_command(s, cmd("printf '1\\n2\\n'")); }),
                  "wrote 2 lines for 3 samples"));
  EXPECT_TRUE(has(error_of([&] { run_reward_command(s, cmd("printf '1\\n2\\n3\\n4\\n'")); }),
                  "wrote 4 lines for 3 samples"));
  EXPECT_TRUE(
      has(error_of([&] { run_reward_command(s, cmd("true")); }), "wrote 0 lines for 3 samples"));
  expect_no_children();
}

TEST(RewardCommand, ATimeoutKillsTheCommandAndItsChildren) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string e = error_of([] {
    run_reward_command(small_batch().samples(), cmd("echo 'starting' >&2; sleep 30; echo 1", 0.5));
  });
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(has(e, "did not finish within 0.5 s and was killed"));
  EXPECT_TRUE(has(e, "starting"));
  EXPECT_LT(s, 5.0) << "the timeout did not stop the wait";
  EXPECT_GE(s, 0.45);
  // A background grandchild holding stdout open is killed with the group too.
  EXPECT_TRUE(has(error_of([] { run_reward_command({}, cmd("sleep 30 & exit 0", 0.3)); }),
                  "did not finish within 0.3 s"));
  expect_no_children();
}

// The command writes ~1 MB of output before it reads any of ~2.3 MB of input (both far above a
// pipe's 64 KiB): a writer that fills stdin before reading stdout would deadlock.
TEST(RewardCommand, WritingBeforeReadingALargeInputDoesNotDeadlock) {
  Batch b;
  for (int i = 0; i < 1000; ++i) {
    b.prompts.push_back(V(100, i % 50));
    b.responses.push_back(V(1000, 7));
  }
  const std::string pad(1000, 'p');
  const auto r = run_reward_command(
      b.samples(), cmd("i=0; while [ $i -lt 1000 ]; do echo '{\"reward\": 0.25, \"pad\": \"" + pad +
                           "\"}'; i=$((i+1)); done; cat >/dev/null",
                       30));
  ASSERT_EQ(r.size(), 1000u);
  EXPECT_EQ(r.front(), 0.25);
  EXPECT_GT(reward_command_input(b.samples(), cmd("x")).size(), 2u << 20);
  // A command that ignores its input entirely (SIGPIPE is not fatal to us).
  ShellOptions so;
  so.timeout_s = 20;
  const ShellResult res = run_shell("echo done", std::string(8 << 20, 'x'), so);
  EXPECT_EQ(res.out, "done\n");
  EXPECT_EQ(res.exit_code, 0);
  expect_no_children();
}

// A command that is not found is sh's exit 127 with its message; a flood of output is cut off at
// max_out and the command killed.
TEST(RewardCommand, AMissingProgramAndAnOutputFloodAreReported) {
  const std::string e = error_of(
      [] { run_reward_command(small_batch().samples(), cmd("no-such-scorer-xyz --flag")); });
  EXPECT_TRUE(has(e, "exited with status 127"));
  EXPECT_TRUE(has(e, "no-such-scorer-xyz"));
  ShellOptions so;
  so.timeout_s = 20;
  so.max_out = 1 << 20;
  EXPECT_TRUE(has(error_of([&] { run_shell("yes", "", so); }), "wrote more than 1048576 bytes"));
  so.max_out = 4 << 20;  // the control: a bounded output under the limit passes
  EXPECT_EQ(run_shell("yes | head -c 2000000", "", so).out.size(), 2000000u);
  expect_no_children();
}

// Four threads run commands at once: each gets its own answers, and a short one is not held up by
// a long one (its pipes do not leak into the other's child).
TEST(RewardCommand, CommandsOnSeveralThreadsRunAtOnce) {
  std::vector<std::vector<double>> got(4);
  std::vector<double> seconds(4);
  std::vector<std::string> errors(4);
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&, i] {
      const auto t0 = std::chrono::steady_clock::now();
      const std::string wait = i == 0 ? "sleep 2; " : "";
      try {
        got[i] = run_reward_command(
            small_batch().samples(),
            cmd(wait + "cat >/dev/null; printf '" + std::to_string(i) + "\\n1\\n2\\n'"));
      } catch (const Error& e) {
        errors[i] = e.what();
      }
      seconds[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    });
  for (auto& t : ts) t.join();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(errors[i], "");
    EXPECT_EQ(got[i], (std::vector<double>{double(i), 1, 2}));
  }
  EXPECT_GE(seconds[0], 1.9);
  for (int i = 1; i < 4; ++i) EXPECT_LT(seconds[i], 1.5) << "thread " << i << " waited for 0";
  expect_no_children();
}

}  // namespace
}  // namespace mart
