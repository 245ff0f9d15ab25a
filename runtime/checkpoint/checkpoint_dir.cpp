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

std::vector<std::string> remove_stale_temporaries(const std::string& run_dir,
                                                  bool own_pid_is_stale) {
  const std::string root = run_dir + "/checkpoints";
  std::vector<std::string> removed;
  if (!ckpt_fs::is_directory(root)) return removed;
  const std::string host = ckpt_fs::host_tag();
  for (const std::string& n : ckpt_fs::list_dir(root)) {
    if (n.rfind(".tmp-", 0) != 0 && n.rfind(".deleting-", 0) != 0) continue;
    // ".tmp-step_N-HOST-PID" (or ".tmp-step_N-PID" from MART before host tags).
    const size_t dash_pid = n.rfind('-');
    const std::string pid_text = n.substr(dash_pid + 1);
    if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos ||
        pid_text.size() > 9)
      continue;                                      // not a name MART makes: leave it alone
    const std::string head = n.substr(0, dash_pid);  // ".tmp-step_N[-HOST]"
    const size_t dash_host = head.rfind('-');
    const std::string rest = head.substr(dash_host + 1);
    const bool has_host = !ckpt_dir::parse_step_name(rest).has_value();
    if (has_host && rest != host) continue;  // another host's save may still be running
    const long pid = std::stol(pid_text);
    // Our own PID in the name is from an earlier process that had it (common in containers),
    // unless this process may be saving now (another thread's session).
    const bool own = pid == static_cast<long>(getpid());
    if (own ? !own_pid_is_stale : ckpt_fs::pid_alive(pid)) continue;
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
      verify_checkpoint(root + "/" + name);
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
