#include "runtime/rlhf/reward_command.h"

#include <cmath>

#include "common/error.h"
#include "nlohmann/json.hpp"
#include "runtime/rlhf/rollout.h"
#include "runtime/rlhf/shell_command.h"

namespace mart {

namespace {

std::string shorten(const std::string& s, size_t n = 80) {
  return s.size() <= n ? s : s.substr(0, n) + "...";
}

}  // namespace

std::string reward_command_input(const std::vector<RewardSample>& samples,
                                 const RewardCommandOptions& opt) {
  std::string in;
  for (size_t i = 0; i < samples.size(); ++i) {
    nlohmann::json j;
    j["index"] = i;
    j["prompt_ids"] = std::vector<int32_t>(samples[i].prompt.begin(), samples[i].prompt.end());
    j["response_ids"] =
        std::vector<int32_t>(samples[i].response.begin(), samples[i].response.end());
    if (opt.decode) {
      j["prompt"] = opt.decode(samples[i].prompt);
      j["response"] = opt.decode(samples[i].response);
    }
    in += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    in += '\n';
  }
  return in;
}

namespace {

// One reward from one output line; throws naming the line.
double parse_line(const std::string& command, const std::string& line, size_t number) {
  auto bad = [&](const char* why) {
    MART_FAIL("the reward command `", shorten(command, 200), "` wrote line ", number, " '",
              shorten(line), "', ", why, ": each line must be a JSON number or {\"reward\": x}");
  };
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded()) bad("which is not JSON");
  const nlohmann::json* v = &j;
  if (j.is_object()) {
    if (!j.contains("reward")) bad("an object without \"reward\"");
    v = &j["reward"];
  }
  if (!v->is_number()) bad("whose reward is not a number");
  const double x = v->get<double>();
  if (!std::isfinite(x)) bad("whose reward is not finite");
  return x;
}

}  // namespace

std::vector<double> parse_reward_lines(const std::string& command, const std::string& out,
                                       size_t expected) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    std::string line = out.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = end + 1;
  }
  MART_CHECK(lines.size() == expected, "the reward command `", shorten(command, 200), "` wrote ",
             lines.size(), " line", lines.size() == 1 ? "" : "s", " for ", expected,
             " samples: it must write exactly one reward line per input line, in order");
  std::vector<double> r(expected);
  for (size_t i = 0; i < expected; ++i) r[i] = parse_line(command, lines[i], i + 1);
  return r;
}

std::vector<double> run_reward_command(const std::vector<RewardSample>& samples,
                                       const RewardCommandOptions& opt) {
  MART_CHECK(!opt.command.empty(), "the reward command is empty: give a shell command");
  ShellOptions so;
  so.timeout_s = opt.timeout_s;
  const ShellResult res = run_shell(opt.command, reward_command_input(samples, opt), so);
  const std::string tail = res.err_tail.empty() ? " (its stderr was empty)"
                                                : "; its stderr ended with:\n" + res.err_tail;
  MART_CHECK(!res.timed_out, "the reward command `", shorten(opt.command, 200),
             "` did not finish within ", opt.timeout_s,
             " s and was killed; raise the timeout or make it faster", tail);
  MART_CHECK(res.signal == 0, "the reward command `", shorten(opt.command, 200),
             "` was killed by signal ", res.signal, tail);
  MART_CHECK(res.exit_code == 0, "the reward command `", shorten(opt.command, 200),
             "` exited with status ", res.exit_code, tail);
  return parse_reward_lines(opt.command, res.out, samples.size());
}

std::vector<RewardSample> rollout_reward_samples(const Rollout& rollout) {
  std::vector<RewardSample> s(rollout.B);
  for (int b = 0; b < rollout.B; ++b) s[b] = {rollout.prompt_of(b), rollout.response_text_of(b)};
  return s;
}

}  // namespace mart
