// TFRecord framing (io/tfrecord.h): masked CRC-32C against values computed independently, the
// record layout byte by byte, round trips through the writer and reader, and a flipped byte in a
// record's length, data or CRC caught with the record's index and offset named.
#include <cerrno>

#include "io/tfrecord.h"
#include "tests/io/io_test_util.h"

namespace mart::test {
namespace {

std::string bytes_of(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(static_cast<char>(x));
  return s;
}

// Expected values computed once with a bitwise CRC-32C in Python (reflected polynomial
// 0x82F63B78, init and final xor 0xffffffff) and mask(c) = ((c >> 15) | (c << 17)) + 0xa282ead8
// mod 2^32: e.g. crc32c(b"123456789") = 0xe3069283, masked 0xc78ab0e5.
TEST(TfRecord, MaskedCrcMatchesIndependentValues) {
  EXPECT_EQ(masked_crc32c("", 0), 0xa282ead8u);
  EXPECT_EQ(masked_crc32c("123456789", 9), 0xc78ab0e5u);
  EXPECT_EQ(masked_crc32c("hello", 5), 0x191c1fbbu);
  const std::string len5 = bytes_of({5, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(masked_crc32c(len5.data(), 8), 0x3e04b2eau);
}

TEST(TfRecord, FrameIsLengthCrcDataCrcLittleEndian) {
  // 5 as uint64 LE | 0x3e04b2ea LE | "hello" | 0x191c1fbb LE
  const std::string want = bytes_of({5, 0, 0, 0, 0, 0, 0, 0, 0xea, 0xb2, 0x04, 0x3e}) + "hello" +
                           bytes_of({0xbb, 0x1f, 0x1c, 0x19});
  EXPECT_EQ(tfrecord_frame("hello"), want);
  EXPECT_EQ(tfrecord_frame("").size(), 16u);
}

TEST(TfRecord, WriterAndReaderRoundTrip) {
  TempDir tmp;
  const std::string path = tmp.file("r.tfrecord");
  const std::vector<std::string> recs = {"", "a", std::string(1000, 'x'), bytes_of({0, 1, 255})};
  {
    TfRecordWriter w(path);
    for (size_t i = 0; i < 2; ++i) w.write(recs[i]);
  }
  {
    TfRecordWriter w(path);  // reopening appends
    for (size_t i = 2; i < recs.size(); ++i) w.write(recs[i]);
    w.sync();
  }
  EXPECT_EQ(tfrecord_read_file(path), recs);
}

TEST(TfRecord, EveryFlippedByteIsCaughtWithIndexAndOffset) {
  const std::string good = tfrecord_frame("first") + tfrecord_frame("second record");
  ASSERT_EQ(tfrecord_parse(good, "f").size(), 2u);
  const size_t second = 16 + 5;
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    const std::string msg = error_of([&] { tfrecord_parse(bad, "ev.file"); });
    EXPECT_TRUE(has(msg, "ev.file: record ")) << "byte " << i;
    if (i >= second)
      EXPECT_TRUE(has(msg, "record 1 at byte 21")) << "byte " << i;
    else
      EXPECT_TRUE(has(msg, "record 0 at byte 0")) << "byte " << i;
  }
  std::string bad = good;
  bad[second + 12] ^= 0x20;  // a data byte of record 1
  EXPECT_TRUE(has(error_of([&] { tfrecord_parse(bad, "f"); }), "data CRC does not match"));
  bad = good;
  bad[second + 1] ^= 0x20;  // a length byte of record 1
  EXPECT_TRUE(has(error_of([&] { tfrecord_parse(bad, "f"); }), "length CRC does not match"));
}

TEST(TfRecord, TruncatedFileIsNamed) {
  const std::string good = tfrecord_frame("first") + tfrecord_frame("second");
  for (size_t cut : {size_t{1}, size_t{5}, size_t{14}}) {
    const std::string msg =
        error_of([&] { tfrecord_parse(std::string_view(good).substr(0, good.size() - cut), "f"); });
    EXPECT_TRUE(has(msg, "record 1 at byte 21 is truncated")) << cut;
  }
}

TEST(TfRecord, WriteFailureNamesTheFile) {
  TempDir tmp;
  const std::string path = tmp.file("r.tfrecord");
  TfRecordWriter w(path, [](int, const void*, size_t) -> ssize_t {
    errno = ENOSPC;
    return -1;
  });
  const std::string msg = error_of([&] { w.write("x"); });
  EXPECT_TRUE(has(msg, "cannot write '" + path + "'"));
  EXPECT_TRUE(has(msg, "No space left on device"));
  EXPECT_TRUE(has(error_of([&] { TfRecordWriter(tmp.file("no/such/dir/f")); }), "cannot open"));
}

}  // namespace
}  // namespace mart::test
