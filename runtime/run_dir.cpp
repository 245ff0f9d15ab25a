#include "runtime/run_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <vector>

#include "common/error.h"

namespace fs = std::filesystem;

namespace mart {
namespace {

// The files a run writes at the top of RUN (atomic writes leave NAME.tmp.<pid> when killed).
constexpr const char* kRunFiles[] = {"config.yaml", "metrics.jsonl", "summary.json", "checkpoints",
                                     "metrics.csv", "tensorboard",   "timeline.json"};

bool is_run_file(const std::string& name) {
  for (const char* f : kRunFiles)
    if (name == f || name.rfind(std::string(f) + ".tmp.", 0) == 0) return true;
  return false;
}

std::string holder_record() {
  char host[256] = "unknown-host";
  ::gethostname(host, sizeof host - 1);
  std::time_t now = std::time(nullptr);
  char when[64];
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %Z", std::localtime(&now));
  return str("pid ", ::getpid(), " on host ", host, ", started ", when, "\n");
}

std::string read_fd(int fd) {
  std::string out;
  char buf[512];
  ssize_t n;
  off_t off = 0;
  while ((n = ::pread(fd, buf, sizeof buf, off)) > 0 && out.size() < 4096) {
    out.append(buf, static_cast<size_t>(n));
    off += n;
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\0')) out.pop_back();
  return out;
}

}  // namespace

RunDirLock::RunDirLock(const std::string& run_dir) {
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  MART_CHECK(!ec, "cannot create the run directory '", run_dir, "': ", ec.message(),
             " (check the path and its permissions, or pick another --run-dir)");
  const std::string path = run_dir + "/.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  MART_CHECK(fd_ >= 0, "cannot open the run directory's lock file '", path,
             "': ", std::strerror(errno), " (the run directory must be writable)");
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const std::string holder = read_fd(fd_);
    ::close(fd_);
    fd_ = -1;
    MART_CHECK(err != EWOULDBLOCK, "run directory '", run_dir, "' is in use by another run (",
               holder.empty() ? "holder unknown" : holder, "; lock ", path,
               "). Two runs must not share a directory: wait for it to end, stop it, or pass ",
               "another --run-dir");
    MART_FAIL("cannot lock '", path, "': ", std::strerror(err),
              " (a filesystem without flock support? use a local run directory)");
  }
  // Ours now: record who holds it. Failing to write the record is not fatal; the lock is.
  const std::string rec = holder_record();
  if (::ftruncate(fd_, 0) == 0) {
    ssize_t ignored = ::pwrite(fd_, rec.data(), rec.size(), 0);
    (void)ignored;
  }
}

RunDirLock::~RunDirLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock; the file stays (removing it would race)
}

void prepare_fresh_run_dir(const std::string& run_dir, bool overwrite) {
  std::vector<std::string> ours, foreign;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name == ".lock") continue;
    (is_run_file(name) ? ours : foreign).push_back(name);
  }
  MART_CHECK(!ec, "cannot list the run directory '", run_dir, "': ", ec.message());
  if (ours.empty() && foreign.empty()) return;
  auto names = [](const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size() && i < 5; ++i) s += (i ? ", " : "") + v[i];
    return v.size() > 5 ? s + ", ..." : s;
  };
  MART_CHECK(overwrite, "run directory '", run_dir, "' already holds files (",
             names(foreign.empty() ? ours : foreign), "): a new run would mix with them. Pass ",
             "--resume ", run_dir, " to continue that run, --overwrite to delete it and start ",
             "over, or another --run-dir");
  MART_CHECK(foreign.empty(), "--overwrite: run directory '", run_dir,
             "' holds files MART did not write (", names(foreign),
             "), so it is not only a previous run; remove them yourself or pick another --run-dir");
  for (const std::string& name : ours) {
    fs::remove_all(fs::path(run_dir) / name, ec);
    MART_CHECK(!ec, "--overwrite: cannot remove '", run_dir, "/", name, "': ", ec.message());
  }
}

}  // namespace mart
