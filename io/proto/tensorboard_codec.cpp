// tb_encode_event / tb_decode_event (io/tensorboard_writer.h) through the protoc-generated
// messages of io/tensorboard_event.proto. This folder is compiled apart from the io module and
// partially linked with MART's copy of libprotobuf-lite into one object whose protobuf symbols
// are local (CMakeLists.txt), so nothing else in a process (Debian's libsentencepiece.so carries
// its own, older protobuf-lite) binds to them, and this code binds to nothing else's.
#include "common/error.h"
#include "io/tensorboard_event.pb.h"
#include "io/tensorboard_writer.h"

namespace mart {

namespace pb = mart::tensorboard;

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
}  // namespace mart
