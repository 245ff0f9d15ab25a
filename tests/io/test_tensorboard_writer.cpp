// TensorBoard event files (io/tensorboard_writer.h): the Event bytes against a hand-encoded
// protobuf message, the file's records (file_version first, then one event per step), and a new
// writer replacing the older MART event files of its directory while leaving other files alone.
#include <filesystem>

#include "io/tensorboard_writer.h"
#include "tests/io/io_test_util.h"

namespace mart::test {
namespace {

std::string bytes_of(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(static_cast<char>(x));
  return s;
}

// Hand-encoded protobuf wire format (field << 3 | wire type): wall_time 1.5 = tag 0x09 and the
// double's 8 bytes LE (0x3ff8000000000000); step 3 = 0x10 0x03; file_version = 0x1a, length 13,
// "brain.Event:2"; summary = 0x2a, length, Value = 0x0a, length, tag 0x0a "loss", simple_value
// 0x15 and the float 2.5's 4 bytes LE (0x40200000).
TEST(TensorBoardEvent, EncodesTensorBoardsWireFormat) {
  const std::string head = bytes_of({0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0x10, 0x03});
  TbEvent v;
  v.wall_time = 1.5;
  v.step = 3;
  v.file_version = "brain.Event:2";
  EXPECT_EQ(tb_encode_event(v), head + bytes_of({0x1a, 13}) + "brain.Event:2");
  TbEvent s;
  s.wall_time = 1.5;
  s.step = 3;
  s.scalars = {{"loss", 2.5f}};
  const std::string value = bytes_of({0x0a, 4}) + "loss" + bytes_of({0x15, 0, 0, 0x20, 0x40});
  const std::string summary = bytes_of({0x0a, 11}) + value;
  EXPECT_EQ(tb_encode_event(s), head + bytes_of({0x2a, 13}) + summary);
  const TbEvent back = tb_decode_event(tb_encode_event(s), "x");
  EXPECT_EQ(back.step, 3);
  ASSERT_EQ(back.scalars.size(), 1u);
  EXPECT_EQ(back.scalars[0].tag, "loss");
  EXPECT_EQ(back.scalars[0].value, 2.5f);
  EXPECT_TRUE(has(error_of([] {
                    tb_decode_event(bytes_of({0x0a, 0x7f}), "ev.file");
                  }),
                  "ev.file: a record is not a TensorBoard Event"));
}

TEST(TensorBoardEvent, FileNameHasSecondsHostAndMartSuffix) {
  const std::string n = tb_event_file_name(1700000000.75);
  EXPECT_EQ(n.rfind("events.out.tfevents.1700000000.", 0), 0u) << n;
  EXPECT_EQ(n.substr(n.size() - 5), ".mart");
}

std::vector<TbEvent> read_events(const std::string& path) {
  std::vector<TbEvent> out;
  for (const std::string& r : tfrecord_read_file(path)) out.push_back(tb_decode_event(r, path));
  return out;
}

TEST(TensorBoardWriter, WritesVersionHistoryThenAppendedSteps) {
  TempDir tmp;
  const std::string dir = tmp.file("tb");
  std::string path;
  {
    TensorBoardWriter w(dir, {{10, 1, "", {{"loss", 3.f}}}});
    w.write({11, 2, "", {{"loss", 2.f}, {"lr", 1e-3f}}});
    w.sync();
    path = w.path();
  }
  EXPECT_EQ(tb_event_files(dir).size(), 1u);
  const auto ev = read_events(path);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].file_version, "brain.Event:2");
  EXPECT_TRUE(ev[0].scalars.empty());
  EXPECT_EQ(ev[1].step, 1);
  EXPECT_EQ(ev[2].step, 2);
  ASSERT_EQ(ev[2].scalars.size(), 2u);
  EXPECT_EQ(ev[2].scalars[1].tag, "lr");
  EXPECT_EQ(ev[2].scalars[1].value, 1e-3f);
}

TEST(TensorBoardWriter, NewWriterRemovesOlderMartEventFilesOnly) {
  TempDir tmp;
  const std::string dir = tmp.file("tb");
  std::filesystem::create_directories(dir);
  write_all(dir + "/events.out.tfevents.1.oldhost.mart", "stale");
  write_all(dir + "/events.out.tfevents.1.otherhost", "not ours");  // e.g. another logger
  write_all(dir + "/notes.txt", "keep");
  write_all(dir + "/events.out.tfevents.2.oldhost.mart.tmp.123", "torn");  // a killed rebuild
  TensorBoardWriter w(dir, {});
  const auto files = tb_event_files(dir);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(dir + "/" + files[0], w.path());
  EXPECT_TRUE(std::filesystem::exists(dir + "/events.out.tfevents.1.otherhost"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/notes.txt"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/events.out.tfevents.2.oldhost.mart.tmp.123"));
  EXPECT_EQ(read_events(w.path()).size(), 1u);
}

TEST(TensorBoardWriter, WriteFailureNamesTheFile) {
  TempDir tmp;
  TensorBoardWriter w(tmp.file("tb"), {}, [](int, const void*, size_t) -> ssize_t {
    errno = EIO;
    return -1;
  });
  const std::string msg = error_of([&] { w.write({1, 0, "", {{"loss", 1.f}}}); });
  EXPECT_TRUE(has(msg, "cannot write '" + w.path() + "'"));
  EXPECT_TRUE(has(msg, "Input/output error"));
}

}  // namespace
}  // namespace mart::test
