#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "io_test_util.h"

namespace mart {
namespace {

using test::error_of;
using test::has;
using test::TempDir;

// A safetensors file from raw header JSON and data bytes (for hand-made corrupt files).
std::string make_file(const std::string& json, const std::string& data) {
  std::string out(8, '\0');
  const uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + json + data;
}

TEST(Safetensors, RoundTripWithMetadataAndBf16) {
  TempDir dir;
  const std::vector<float> w{1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, -7.0f};
  std::vector<uint16_t> bf(5);
  for (size_t i = 0; i < bf.size(); ++i) bf[i] = f32_to_bf16(0.1f * static_cast<float>(i) - 0.3f);
  const std::vector<int32_t> ids{7, -1, 42};
  const double scalar = 3.141592653589793;
  const std::vector<uint16_t> half{0x3c00, 0xc000, 0x7bff};

  SafetensorsWriter wr;
  wr.add("model.w", DType::F32, {2, 3}, w.data());
  wr.add("model.bf", DType::BF16, {5}, bf.data());
  wr.add("ids", DType::I32, {3}, ids.data());
  wr.add("scalar", DType::F64, {}, &scalar);
  wr.add("empty", DType::F32, {0, 4}, nullptr);
  wr.add("half", DType::F16, {3, 1}, half.data());
  wr.set_metadata("format", "pt");
  wr.set_metadata("step", "100");
  wr.write(dir.file("m.safetensors"));

  const SafetensorsFile f(dir.file("m.safetensors"));
  EXPECT_EQ(f.names(),
            (std::vector<std::string>{"empty", "half", "ids", "model.bf", "model.w", "scalar"}));
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.metadata().at("step"), "100");

  const TensorView& tw = f.tensor("model.w");
  EXPECT_EQ(tw.dtype, DType::F32);
  EXPECT_EQ(tw.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(tw.numel(), 6);
  ASSERT_EQ(tw.nbytes, 24u);
  EXPECT_EQ(std::memcmp(tw.data, w.data(), 24), 0);

  const TensorView& tb = f.tensor("model.bf");
  EXPECT_EQ(tb.dtype, DType::BF16);
  ASSERT_EQ(tb.nbytes, 10u);
  std::vector<uint16_t> bf_back(5);
  std::memcpy(bf_back.data(), tb.data, 10);
  EXPECT_EQ(bf_back, bf);
  EXPECT_NEAR(bf16_to_f32(bf_back[4]), 0.1f, 1e-2f);

  double s_back;
  std::memcpy(&s_back, f.tensor("scalar").data, 8);
  EXPECT_EQ(s_back, scalar);
  EXPECT_TRUE(f.tensor("scalar").shape.empty());
  EXPECT_EQ(f.tensor("empty").nbytes, 0u);
  EXPECT_EQ(f.tensor("ids").dtype, DType::I32);
  EXPECT_EQ(std::memcmp(f.tensor("half").data, half.data(), 6), 0);

  // Every tensor naturally aligned; header padded to a multiple of 8 with spaces.
  for (const auto& [name, v] : f.tensors())
    EXPECT_EQ(reinterpret_cast<uintptr_t>(v.data) % dtype_size(v.dtype), 0u) << name;
  const std::string bytes = test::read_all(dir.file("m.safetensors"));
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes[8], '{');
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  // Stable layout: larger elements first, then by name; data contiguous from offset 0.
  EXPECT_EQ(header["scalar"]["data_offsets"], nlohmann::json({0, 8}));
  EXPECT_EQ(header["empty"]["data_offsets"], nlohmann::json({8, 8}));
  EXPECT_EQ(header["ids"]["data_offsets"], nlohmann::json({8, 20}));
  EXPECT_EQ(header["model.w"]["data_offsets"], nlohmann::json({20, 44}));
  EXPECT_EQ(header["half"]["data_offsets"], nlohmann::json({44, 50}));
  EXPECT_EQ(header["model.bf"]["data_offsets"], nlohmann::json({50, 60}));
  EXPECT_EQ(bytes.size(), 8 + n + 60);
}

// on_bytes (the [checkpoint] progress line) sees the tensor-data bytes written, in order, in
// pieces of at most 64 MiB, ending at the data size; the file is the one written without it.
TEST(Safetensors, WriterReportsBytesWrittenAndWritesTheSameFile) {
  TempDir dir;
  const std::vector<float> big((uint64_t{80} << 20) / 4, 0.5f);  // 80 MiB: two pieces
  const std::vector<float> small{1.0f, 2.0f, 3.0f};
  SafetensorsWriter wr;
  wr.add("big", DType::F32, {static_cast<int64_t>(big.size())}, big.data());
  wr.add("small", DType::F32, {3}, small.data());
  std::vector<uint64_t> seen;
  wr.write(dir.file("a.safetensors"), [&](uint64_t b) { seen.push_back(b); });
  wr.write(dir.file("b.safetensors"));
  const uint64_t data = big.size() * 4 + small.size() * 4;
  ASSERT_EQ(seen.size(), 3u);  // 64 MiB, then the rest of "big", then "small" (in either order)
  for (size_t i = 1; i < seen.size(); ++i) {
    EXPECT_GT(seen[i], seen[i - 1]);
    EXPECT_LE(seen[i] - seen[i - 1], uint64_t{64} << 20);
  }
  EXPECT_LE(seen.front(), uint64_t{64} << 20);
  EXPECT_EQ(seen.back(), data);
  EXPECT_EQ(test::read_all(dir.file("a.safetensors")), test::read_all(dir.file("b.safetensors")));
}

TEST(Safetensors, WriterRejectsBadTensors) {
  SafetensorsWriter wr;
  float x = 0;
  wr.add("a", DType::F32, {1}, &x);
  EXPECT_TRUE(has(error_of([&] { wr.add("a", DType::F32, {1}, &x); }), "'a' added twice"));
  EXPECT_TRUE(has(error_of([&] { wr.add("__metadata__", DType::F32, {1}, &x); }), "reserved"));
  EXPECT_TRUE(has(error_of([&] { wr.add("b", DType::F32, {-1}, &x); }), "invalid shape"));
  TempDir dir;
  EXPECT_TRUE(has(error_of([&] { wr.write(dir.file("nodir/x.safetensors")); }), "nodir"));
}

TEST(Safetensors, MissingTensorAndFile) {
  TempDir dir;
  SafetensorsWriter wr;
  wr.write(dir.file("empty.safetensors"));
  const SafetensorsFile f(dir.file("empty.safetensors"));
  EXPECT_TRUE(f.names().empty());
  EXPECT_TRUE(has(error_of([&] { f.tensor("w"); }), "no tensor 'w'"));
  EXPECT_TRUE(has(error_of([&] { SafetensorsFile(dir.file("nope.safetensors")); }),
                  dir.file("nope.safetensors")));
}

class CorruptSafetensors : public ::testing::Test {
 protected:
  std::string load_error(const std::string& bytes) {
    test::write_all(dir.file("bad.safetensors"), bytes);
    const std::string msg = error_of([&] { SafetensorsFile(dir.file("bad.safetensors")); });
    EXPECT_TRUE(has(msg, dir.file("bad.safetensors")));
    return msg;
  }
  TempDir dir;
};

TEST_F(CorruptSafetensors, HeaderLength) {
  EXPECT_TRUE(has(load_error("abc"), "too short"));
  std::string f = make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", "1234");
  f[3] = 0x7f;  // length now far beyond the file
  EXPECT_TRUE(has(load_error(f), "exceeds the file"));
}

TEST_F(CorruptSafetensors, BadJson) {
  EXPECT_TRUE(has(load_error(make_file(R"({"a":{"dtype":"F32",)", "")), "does not parse"));
  EXPECT_TRUE(has(load_error(make_file("[1,2,3] ", "")), "must be an object"));
}

TEST_F(CorruptSafetensors, OffsetsOutOfRange) {
  const std::string msg = load_error(
      make_file(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", "12345678"));
  EXPECT_TRUE(has(msg, "tensor 'w'"));
  EXPECT_TRUE(has(msg, "run past the data section (8 bytes)"));
}

TEST_F(CorruptSafetensors, ShapeSizeMismatch) {
  const std::string msg = load_error(
      make_file(R"({"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,8]}})", "12345678"));
  EXPECT_TRUE(has(msg, "tensor 'w'"));
  EXPECT_TRUE(has(msg, "needs 12 bytes"));
  EXPECT_TRUE(has(msg, "shape/size mismatch"));
}

TEST_F(CorruptSafetensors, OverlapGapTrailing) {
  EXPECT_TRUE(has(load_error(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                       R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                       "12345678")),
                  "overlaps tensor 'a'"));
  EXPECT_TRUE(has(load_error(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                       "12345678")),
                  "gap of 4 bytes before tensor 'a'"));
  EXPECT_TRUE(has(load_error(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                                       "12345678")),
                  "4 trailing bytes"));
}

TEST_F(CorruptSafetensors, BadEntries) {
  EXPECT_TRUE(
      has(load_error(make_file(R"({"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}})", "1234")),
          "unsupported dtype 'Q7'"));
  EXPECT_TRUE(has(
      load_error(make_file(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "1234")),
      "non-negative integers"));
  EXPECT_TRUE(
      has(load_error(make_file(R"({"a":{"dtype":"F32","shape":[1]}})", "1234")), "data_offsets"));
  EXPECT_TRUE(has(load_error(make_file(R"({"__metadata__":{"step":5}})", "")),
                  "__metadata__ value for 'step' must be a string"));
}

}  // namespace
}  // namespace mart
