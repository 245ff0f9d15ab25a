#include "runtime/checkpoint/checkpoint_dir.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "common/error.h"
#include "runtime/checkpoint/checkpoint_fs.h"
#include "runtime/checkpoint/train_checkpoint.h"

namespace mart {
namespace ckpt_dir {

std::string step_name(int step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step_%08d", step);
  return buf;
}

std::optional<int> parse_step_name(const std::string& name) {
  const std::string prefix = "step_";
  if (name.rfind(prefix, 0) != 0 || name.size() == prefix.size() ||
      name.size() > prefix.size() + 10)
    return std::nullopt;
  long long v = 0;
  for (size_t i = prefix.size(); i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    v = v * 10 + (name[i] - '0');
  }
  if (v > INT32_MAX) return std::nullopt;
  return static_cast<int>(v);
}

std::string scratch_name(const std::string& kind, const std::string& step_dir_name) {
  return kind + "-" + step_dir_name + "-" + ckpt_fs::host_tag() + "-" + std::to_string(getpid());
}

void prune_checkpoints(const std::string& root, int newest, int keep) {
  if (keep <= 0) return;
  std::vector<int> older;
  try {
    for (const std::string& n : ckpt_fs::list_dir(root)) {
      const std::optional<int> s = parse_step_name(n);
      if (s && *s < newest && ckpt_fs::is_directory(root + "/" + n)) older.push_back(*s);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "mart: warning: old checkpoints not pruned: %s\n", e.what());
    return;
  }
  std::sort(older.rbegin(), older.rend());
  for (size_t i = static_cast<size_t>(keep - 1); i < older.size(); ++i) {
    const std::string name = step_name(older[i]);
    // Out of the step_* namespace first (one atomic rename), so a crash during the removal
    // leaves a .deleting- directory that no loader takes for a checkpoint.
    const std::string doomed = root + "/" + scratch_name(".deleting", name);
    try {
      ckpt_fs::rename(root + "/" + name, doomed);
      ckpt_fs::fsync_dir(root);
    } catch (const Error& e) {
      std::fprintf(stderr, "mart: warning: old checkpoint %s/%s not pruned: %s\n", root.c_str(),
                   name.c_str(), e.what());
      continue;
    }
    const std::string why = ckpt_fs::remove_all_noexcept(doomed);
    if (!why.empty())
      std::fprintf(stderr,
                   "mart: warning: could not finish removing %s (%s); it is no checkpoint and is "
                   "removed at the next start\n",
                   doomed.c_str(), why.c_str());
  }
}

namespace {

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() <= 9 && s.find_first_not_of("0123456789") == std::string::npos;
}

// The PID that made a scratch entry of RUN/checkpoints, when the name is one MART makes on this
// host: ".tmp-step_N-HOST-PID", ".deleting-step_N-HOST-PID", ".tmp-step_N-PID" (MART before host
// tags) or "latest.tmp.PID" (write_file_atomic's temporary for `latest`). nullopt otherwise,
// including another host's names (its save may still be running).
std::optional<long> scratch_pid(const std::string& n, const std::string& host) {
  const std::string latest_tmp = "latest.tmp.";
  if (n.rfind(latest_tmp, 0) == 0) {
    const std::string pid = n.substr(latest_tmp.size());
    return all_digits(pid) ? std::optional<long>(std::stol(pid)) : std::nullopt;
  }
  if (n.rfind(".tmp-", 0) != 0 && n.rfind(".deleting-", 0) != 0) return std::nullopt;
  const size_t dash_pid = n.rfind('-');
  const std::string pid = n.substr(dash_pid + 1);
  if (!all_digits(pid)) return std::nullopt;
  const std::string head = n.substr(0, dash_pid);  // ".tmp-step_N[-HOST]"
  const std::string rest = head.substr(head.rfind('-') + 1);
  const bool has_host = !parse_step_name(rest).has_value();
  if (has_host && rest != host) return std::nullopt;
  return std::stol(pid);
}

}  // namespace

std::vector<std::string> remove_stale_temporaries(const std::string& run_dir,
                                                  bool own_pid_is_stale) {
  const std::string root = run_dir + "/checkpoints";
  std::vector<std::string> removed;
  if (!ckpt_fs::is_directory(root)) return removed;
  const std::string host = ckpt_fs::host_tag();
  for (const std::string& n : ckpt_fs::list_dir(root)) {
    const std::optional<long> pid = scratch_pid(n, host);
    if (!pid) continue;
    // Our own PID in the name is from an earlier process that had it (common in containers),
    // unless this process may be saving now (another thread's session).
    const bool own = *pid == static_cast<long>(getpid());
    if (own ? !own_pid_is_stale : ckpt_fs::pid_alive(*pid)) continue;
    const std::string why = ckpt_fs::remove_all_noexcept(root + "/" + n);
    MART_CHECK(why.empty(), "cannot remove the stale checkpoint temporary '", root, "/", n,
               "': ", why, "; remove it by hand");
    removed.push_back(n);
  }
  return removed;
}

}  // namespace ckpt_dir

std::vector<std::string> remove_stale_checkpoint_temporaries(const std::string& run_dir) {
  return ckpt_dir::remove_stale_temporaries(run_dir, /*own_pid_is_stale=*/true);
}

CheckpointChoice newest_intact_checkpoint(const std::string& run_dir) {
  const std::string root = run_dir + "/checkpoints";
  MART_CHECK(ckpt_fs::is_directory(root), "no checkpoint to resume in '", run_dir, "' (", root,
             " does not exist)");
  std::vector<std::pair<int, std::string>> found;
  for (const std::string& n : ckpt_fs::list_dir(root))
    if (auto s = ckpt_dir::parse_step_name(n); s && ckpt_fs::is_directory(root + "/" + n))
      found.emplace_back(*s, n);
  MART_CHECK(!found.empty(), "no checkpoint to resume in '", run_dir, "' (", root,
             " holds no step_* directory)");
  std::sort(found.rbegin(), found.rend());
  CheckpointChoice c;
  for (const auto& [step, name] : found) {
    try {
      c.saved = verify_checkpoint(root + "/" + name);
      c.dir = root + "/" + name;
      return c;
    } catch (const std::exception& e) {  // mart::Error, or e.g. bad_alloc on a damaged file
      c.skipped.push_back(name + ": " + e.what());
    }
  }
  std::string all;
  for (const std::string& s : c.skipped) all += "\n  " + s;
  MART_FAIL("no intact checkpoint to resume in '", run_dir,
            "'; every one failed verification:", all);
}

std::string latest_checkpoint(const std::string& run_dir) {
  return newest_intact_checkpoint(run_dir).dir;
}

}  // namespace mart
