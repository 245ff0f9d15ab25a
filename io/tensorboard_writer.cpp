#include "io/tensorboard_writer.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>

#include "common/error.h"
#include "io/atomic_file.h"

namespace mart {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPrefix = "events.out.tfevents.";
constexpr const char* kSuffix = ".mart";
constexpr const char* kFileVersion = "brain.Event:2";

bool is_mart_event_file(const std::string& name) {
  const std::string p = kPrefix, s = kSuffix;
  return name.size() > p.size() + s.size() && name.compare(0, p.size(), p) == 0 &&
         name.compare(name.size() - s.size(), s.size(), s) == 0;
}

// A temporary of an atomic write a killed process left (write_file_atomic: NAME.tmp.<pid>).
bool is_mart_event_temporary(const std::string& name) {
  const std::string p = kPrefix, t = std::string(kSuffix) + ".tmp.";
  return name.compare(0, p.size(), p) == 0 && name.find(t) != std::string::npos;
}

std::string host_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "localhost";
  std::string h = host;
  std::replace(h.begin(), h.end(), '/', '_');
  return h;
}

double now_unix() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

}  // namespace

std::string tb_event_file_name(double unix_seconds) {
  return str(kPrefix, static_cast<long long>(std::floor(unix_seconds)), ".", host_name(), kSuffix);
}

std::vector<std::string> tb_event_files(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (is_mart_event_file(name)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string TensorBoardWriter::start_file(const std::string& dir,
                                          const std::vector<TbEvent>& history) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  MART_CHECK(!ec, "cannot create the TensorBoard directory '", dir, "': ", ec.message(),
             " (is the run directory writable?)");
  const double t = now_unix();
  const std::string name = tb_event_file_name(t);
  const std::string path = dir + "/" + name;
  TbEvent version;
  version.wall_time = t;
  version.file_version = kFileVersion;
  write_file_atomic(path, [&](FileSink& out) {
    const std::string head = tfrecord_frame(tb_encode_event(version));
    out.write(head.data(), head.size());
    for (const TbEvent& e : history) {
      const std::string rec = tfrecord_frame(tb_encode_event(e));
      out.write(rec.data(), rec.size());
    }
  });
  std::vector<std::string> stale;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n != name && (is_mart_event_file(n) || is_mart_event_temporary(n))) stale.push_back(n);
  }
  for (const std::string& old : stale) {
    fs::remove(dir + "/" + old, ec);
    MART_CHECK(!ec, "cannot remove the stale TensorBoard file '", dir, "/", old,
               "': ", ec.message(), " (remove it by hand: it shows steps this run redoes)");
  }
  return path;
}

TensorBoardWriter::TensorBoardWriter(const std::string& dir, const std::vector<TbEvent>& history,
                                     RecordWriteFn write_fn)
    : file_(start_file(dir, history), std::move(write_fn)) {}

void TensorBoardWriter::write(const TbEvent& e) {
  file_.write(tb_encode_event(e));
}

}  // namespace mart
