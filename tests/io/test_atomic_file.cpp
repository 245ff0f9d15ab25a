#include <unistd.h>

#include "io/atomic_file.h"
#include "io/checksum.h"
#include "io_test_util.h"

namespace mart {
namespace {

using test::error_of;
using test::has;
using test::TempDir;

bool has_temp_files(const TempDir& dir) {
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) return true;
  return false;
}

TEST(AtomicFile, WritesAndReplaces) {
  TempDir dir;
  const std::string path = dir.file("f.txt");
  write_file_atomic(path, "first", 5);
  EXPECT_EQ(test::read_all(path), "first");
  write_file_atomic(path, [](FileSink& s) {
    s.write("sec", 3);
    s.write("ond!", 4);
    EXPECT_EQ(s.bytes_written(), 7u);
  });
  EXPECT_EQ(test::read_all(path), "second!");
  EXPECT_FALSE(has_temp_files(dir));
}

TEST(AtomicFile, FailingFillLeavesOldFileAndNoTemp) {
  TempDir dir;
  const std::string path = dir.file("ckpt.bin");
  write_file_atomic(path, "old contents", 12);
  EXPECT_THROW(write_file_atomic(path,
                                 [](FileSink& s) {
                                   s.write("partial new data", 16);
                                   throw std::runtime_error("simulated crash mid-write");
                                 }),
               std::runtime_error);
  EXPECT_EQ(test::read_all(path), "old contents");
  EXPECT_FALSE(has_temp_files(dir));
}

TEST(AtomicFile, MissingDirectoryNamesThePath) {
  TempDir dir;
  const std::string path = dir.file("no_such_dir/f.bin");
  const std::string msg = error_of([&] { write_file_atomic(path, "x", 1); });
  EXPECT_TRUE(has(msg, path));
  EXPECT_TRUE(has(msg, "No such file or directory"));
}

TEST(AtomicFile, ReadOnlyDirectoryLeavesOldFile) {
  if (::geteuid() == 0) GTEST_SKIP() << "running as root: directory permissions are not enforced";
  TempDir dir;
  const std::string path = dir.file("f.bin");
  write_file_atomic(path, "old", 3);
  std::filesystem::permissions(
      dir.path(), std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  EXPECT_TRUE(has(error_of([&] { write_file_atomic(path, "new", 3); }), "Permission denied"));
  std::filesystem::permissions(dir.path(), std::filesystem::perms::owner_all);
  EXPECT_EQ(test::read_all(path), "old");
  EXPECT_FALSE(has_temp_files(dir));
}

TEST(AtomicFile, RenameFailureLeavesTargetAndNoTemp) {
  TempDir dir;
  // PATH is a non-empty directory: everything succeeds up to the rename, which must fail cleanly.
  std::filesystem::create_directories(dir.path() / "target" / "child");
  const std::string msg = error_of([&] { write_file_atomic(dir.file("target"), "x", 1); });
  EXPECT_TRUE(has(msg, "cannot rename"));
  EXPECT_TRUE(std::filesystem::is_directory(dir.path() / "target" / "child"));
  EXPECT_FALSE(has_temp_files(dir));
}

TEST(Checksum, Crc32cKnownVectors) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c("", 0), 0u);
  const std::string zeros(32, '\0');
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);  // RFC 3720 B.4
  std::string ff(32, '\xff');
  EXPECT_EQ(crc32c(ff.data(), ff.size()), 0x62A8AB43u);
}

TEST(Checksum, IncrementalEqualsOneShotAndFileMatches) {
  std::string data;
  for (int i = 0; i < 10007; ++i) data.push_back(static_cast<char>((i * 131) ^ (i >> 3)));
  const uint32_t whole = crc32c(data.data(), data.size());
  for (size_t split : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{4096}, data.size()}) {
    const uint32_t part = crc32c(data.data(), split);
    EXPECT_EQ(crc32c(data.data() + split, data.size() - split, part), whole) << split;
  }
  TempDir dir;
  write_file_atomic(dir.file("d.bin"), data.data(), data.size());
  EXPECT_EQ(crc32c_file(dir.file("d.bin")), whole);
  data[5000] ^= 1;
  EXPECT_NE(crc32c(data.data(), data.size()), whole);
  EXPECT_TRUE(has(error_of([&] { crc32c_file(dir.file("missing")); }), dir.file("missing")));
}

}  // namespace
}  // namespace mart
