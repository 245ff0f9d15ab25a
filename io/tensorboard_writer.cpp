#include "io/tensorboard_writer.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>

#include "common/error.h"
#include "io/atomic_file.h"
#include "io/tensorboard_event.pb.h"

namespace mart {
namespace {

namespace fs = std::filesystem;
namespace pb = mart::tensorboard;

constexpr const char* kPrefix = "events.out.tfevents.";
constexpr const char* kSuffix = ".mart";
constexpr const char* kFileVersion = "brain.Event:2";

bool is_mart_event_file(const std::string& name) {
  const std::string p = kPrefix, s = kSuffix;
  return name.size() > p.size() + s.size() && name.compare(0, p.size(), p) == 0 &&
         name.compare(name.size() - s.size(), s.size(), s) == 0;
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

std::string tb_encode_event(const TbEvent& e) {
  pb::Event ev;
  ev.set_wall_time(e.wall_time);
  ev.set_step(e.step);
  if (!e.file_version.empty()) {
    ev.set_file_version(e.file_version);
  } else {
    pb::Summary* s = ev.mutable_summary();
    for (const TbScalar& x : e.scalars) {
      pb::SummaryValue* v = s->add_value();
      v->set_tag(x.tag);
      v->set_simple_value(x.value);
    }
  }
  std::string out;
  MART_CHECK(ev.SerializeToString(&out), "cannot encode the TensorBoard event of step ", e.step);
  return out;
}

TbEvent tb_decode_event(std::string_view bytes, const std::string& what) {
  pb::Event ev;
  MART_CHECK(ev.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())), what,
             ": a record is not a TensorBoard Event message (the file is damaged or not an "
             "event file)");
  TbEvent e;
  e.wall_time = ev.wall_time();
  e.step = ev.step();
  if (ev.what_case() == pb::Event::kFileVersion) e.file_version = ev.file_version();
  if (ev.what_case() == pb::Event::kSummary)
    for (const pb::SummaryValue& v : ev.summary().value())
      e.scalars.push_back({v.tag(), v.simple_value()});
  return e;
}

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
  for (const std::string& old : tb_event_files(dir)) {
    if (old == name) continue;
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
