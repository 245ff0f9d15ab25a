// A user command as a reward source. Once per batch, `/bin/sh -c COMMAND` (shell_command.h) gets
// one JSON line per sample on stdin,
//     {"index": i, "prompt_ids": [...], "response_ids": [...], "prompt": "...", "response": "..."}
// ("prompt" and "response" only when a decode function is given; text that is not valid UTF-8 has
// the bad bytes replaced by U+FFFD), stdin is then closed, and the command must write exactly one
// line per sample, in order, on stdout: a JSON number, or an object with a numeric "reward" (other
// keys ignored). It may read and write in any order (no deadlock) and must finish within
// timeout_s. Errors (mart::Error) name the command and what went wrong: its exit status or signal
// and the tail of its stderr, a timeout, a line that is not a reward (with its 1-based line
// number), too few or too many lines.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace mart {

struct Rollout;

struct RewardSample {
  std::span<const int32_t> prompt;    // ids; the caller keeps them alive during the call
  std::span<const int32_t> response;  // ids (what to include, e.g. EOS, is the caller's choice)
};

struct RewardCommandOptions {
  std::string command;    // run as /bin/sh -c command
  double timeout_s = 60;  // > 0, for the whole batch
  // Set: adds "prompt" and "response" text to each line.
  std::function<std::string(std::span<const int32_t>)> decode;
};

// The JSON lines the command receives (exposed for tests).
std::string reward_command_input(const std::vector<RewardSample>& samples,
                                 const RewardCommandOptions& opt);

// Rewards [samples.size()] parsed from the command's stdout; throws on any failure.
std::vector<double> parse_reward_lines(const std::string& command, const std::string& out,
                                       size_t expected);

// Runs the command over the batch: rewards [samples.size()] (float64), in sample order.
std::vector<double> run_reward_command(const std::vector<RewardSample>& samples,
                                       const RewardCommandOptions& opt);

// The samples of a rollout, sequence b at index b: its prompt and Rollout::response_text_of(b)
// (no terminating EOS). The spans point into `rollout`, which must outlive them.
std::vector<RewardSample> rollout_reward_samples(const Rollout& rollout);

}  // namespace mart
