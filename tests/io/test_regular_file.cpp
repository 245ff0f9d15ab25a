// Every file reader refuses what is not a regular file before reading it. Before, open() on a
// FIFO given as a shard, a checkpoint's safetensors or a file to checksum blocked forever (the
// S_ISREG check came after the open); each case below ran into the 60 s hang guard.
#include <gtest/gtest.h>

#include "common/regular_file.h"
#include "io/checksum.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"
#include "tests/io/fifo_guard.h"
#include "tests/io/io_test_util.h"

namespace mart {
namespace {

using test::has;
using test::TempDir;

TEST(RegularFile, FifoIsRefusedByEveryReader) {
  TempDir dir;
  const std::string fifo = dir.file("model.safetensors");
  test::make_fifo(fifo);
  const std::string want = "'" + fifo + "' is not a regular file but a FIFO";
  std::string e = test::error_without_hang(fifo, [&] { MappedFile f(fifo); });
  EXPECT_TRUE(has(e, want)) << e;
  e = test::error_without_hang(fifo, [&] { SafetensorsFile f(fifo); });
  EXPECT_TRUE(has(e, want)) << e;
  e = test::error_without_hang(fifo, [&] { crc32c_file(fifo); });
  EXPECT_TRUE(has(e, want)) << e;
  e = test::error_without_hang(fifo, [&] { read_regular_file(fifo, "profile"); });
  EXPECT_TRUE(has(e, "profile " + want)) << e;
  EXPECT_FALSE(is_regular_file(fifo));
}

TEST(RegularFile, DirectoryAndDeviceAreNamed) {
  TempDir dir;
  EXPECT_TRUE(has(test::error_of([&] { MappedFile f(dir.path().string()); }),
                  "is not a regular file but a directory"));
  EXPECT_TRUE(has(test::error_of([&] { MappedFile f("/dev/null"); }),
                  "'/dev/null' is not a regular file but a character device"));
  EXPECT_TRUE(
      has(test::error_of([&] { MappedFile f(dir.file("missing")); }), "No such file or directory"));
}

// Negative control: regular files (and a symlink to one) read as before.
TEST(RegularFile, RegularFilesStillRead) {
  TempDir dir;
  test::write_all(dir.file("a.txt"), "hello");
  ASSERT_EQ(::symlink(dir.file("a.txt").c_str(), dir.file("link.txt").c_str()), 0);
  EXPECT_EQ(read_regular_file(dir.file("link.txt"), "text"), "hello");
  EXPECT_EQ(MappedFile(dir.file("a.txt")).size(), 5u);
  EXPECT_EQ(crc32c_file(dir.file("a.txt")), crc32c("hello", 5));
  EXPECT_TRUE(is_regular_file(dir.file("link.txt")));
  EXPECT_TRUE(has(test::error_of([&] { read_regular_file(dir.file("a.txt"), "config", 4); }),
                  "has 5 bytes, more than the 4"));
}

}  // namespace
}  // namespace mart
