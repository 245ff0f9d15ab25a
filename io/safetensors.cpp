#include "io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "io/atomic_file.h"

namespace mart {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; MART maps it in place on little-endian hosts");

namespace {

// Hugging Face's reader refuses headers above 100 MB; so do we, which also bounds what a corrupt
// length field can make us parse.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr const char* kMetadataKey = "__metadata__";

// Product of dims with overflow detection; nullopt-like -1 on overflow or negative dims.
int64_t checked_numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return -1;
  }
  return n;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

int64_t TensorView::numel() const {
  return checked_numel(shape);
}

// ---- reader ----

SafetensorsFile::SafetensorsFile(const std::string& path) : file_(path) {
  const uint64_t size = file_.size();
  const std::byte* base = file_.data();
  MART_CHECK(size >= 8, "safetensors '", path, "': file has ", size,
             " bytes, too short for the 8-byte header length (truncated or not safetensors?)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint64_t>(base[i]);
  MART_CHECK(n <= size - 8, "safetensors '", path, "': header length ", n, " exceeds the file (",
             size - 8, " bytes after the length field); the file is truncated or not safetensors");
  MART_CHECK(n <= kMaxHeaderBytes, "safetensors '", path, "': header length ", n,
             " is above the 100 MB limit; the length field is corrupt");
  MART_CHECK(n >= 2, "safetensors '", path, "': header length ", n,
             " is too small to hold a JSON object");

  const char* json_begin = reinterpret_cast<const char*>(base + 8);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(json_begin, json_begin + n);
  } catch (const nlohmann::json::exception& e) {
    MART_FAIL("safetensors '", path, "': header JSON does not parse: ", e.what());
  }
  MART_CHECK(header.is_object(), "safetensors '", path,
             "': header JSON must be an object mapping tensor names to entries, got ",
             header.type_name());

  const uint64_t data_start = 8 + n;
  const uint64_t data_size = size - data_start;
  for (const auto& [name, entry] : header.items()) {
    if (name == kMetadataKey) {
      MART_CHECK(entry.is_object(), "safetensors '", path,
                 "': __metadata__ must be an object of strings, got ", entry.type_name());
      for (const auto& [k, v] : entry.items()) {
        MART_CHECK(v.is_string(), "safetensors '", path, "': __metadata__ value for '", k,
                   "' must be a string, got ", v.type_name());
        metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string where = str("safetensors '", path, "': tensor '", name, "'");
    MART_CHECK(entry.is_object(), where, ": entry must be an object, got ", entry.type_name());
    MART_CHECK(entry.contains("dtype") && entry["dtype"].is_string(), where,
               ": missing or non-string \"dtype\"");
    MART_CHECK(entry.contains("shape") && entry["shape"].is_array(), where,
               ": missing or non-array \"shape\"");
    MART_CHECK(entry.contains("data_offsets") && entry["data_offsets"].is_array() &&
                   entry["data_offsets"].size() == 2,
               where, ": \"data_offsets\" must be an array [begin, end]");
    for (const auto& [k, v] : entry.items())
      MART_CHECK(k == "dtype" || k == "shape" || k == "data_offsets", where, ": unknown key '", k,
                 "' (expected dtype, shape, data_offsets)");

    TensorView view;
    view.name = name;
    const std::string dtype = entry["dtype"].get<std::string>();
    try {
      view.dtype = dtype_from_name(dtype);
    } catch (const Error&) {
      MART_FAIL(where, ": unsupported dtype '", dtype,
                "' (MART reads F32, BF16, F16, I32, U16, U32, F64, U8, BOOL)");
    }
    for (const auto& d : entry["shape"]) {
      MART_CHECK(d.is_number_unsigned(), where,
                 ": shape entries must be non-negative integers, got ", d.dump());
      MART_CHECK(d.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX), where, ": shape entry ",
                 d.dump(), " is too large");
      view.shape.push_back(d.get<int64_t>());
    }
    const auto& offs = entry["data_offsets"];
    MART_CHECK(offs[0].is_number_unsigned() && offs[1].is_number_unsigned(), where,
               ": data_offsets must be non-negative integers, got ", offs.dump());
    const uint64_t begin = offs[0].get<uint64_t>(), end = offs[1].get<uint64_t>();
    MART_CHECK(begin <= end, where, ": data_offsets [", begin, ", ", end, ") has begin > end");
    MART_CHECK(end <= data_size, where, ": data_offsets [", begin, ", ", end,
               ") run past the data section (", data_size,
               " bytes); the file is truncated or the header is corrupt");
    const int64_t numel = checked_numel(view.shape);
    const uint64_t elem = dtype_size(view.dtype);
    uint64_t expect = 0;
    MART_CHECK(numel >= 0 && !__builtin_mul_overflow(static_cast<uint64_t>(numel), elem, &expect),
               where, ": shape ", shape_str(view.shape), " overflows");
    MART_CHECK(expect == end - begin, where, ": shape ", shape_str(view.shape), " x ", dtype,
               " needs ", expect, " bytes but data_offsets [", begin, ", ", end, ") span ",
               end - begin, " bytes (shape/size mismatch)");
    view.data = base + data_start + begin;
    view.nbytes = end - begin;
    tensors_.emplace(name, std::move(view));
  }

  // Contiguity: sorted by offset, each tensor must start where the previous ended and the last
  // must end at the file's end -- gaps would hide stray bytes, overlaps would alias tensors.
  std::vector<const TensorView*> order;
  for (const auto& [name, v] : tensors_) order.push_back(&v);
  const std::byte* data0 = base + data_start;
  std::sort(order.begin(), order.end(), [](const TensorView* a, const TensorView* b) {
    return a->data != b->data ? a->data < b->data : a->nbytes < b->nbytes;
  });
  uint64_t cursor = 0;
  const TensorView* prev = nullptr;
  for (const TensorView* v : order) {
    const uint64_t begin = static_cast<uint64_t>(v->data - data0);
    MART_CHECK(begin >= cursor, "safetensors '", path, "': tensor '", v->name, "' [", begin, ", ",
               begin + v->nbytes, ") overlaps tensor '", prev ? prev->name : "", "' which ends at ",
               cursor);
    MART_CHECK(begin == cursor, "safetensors '", path, "': gap of ", begin - cursor,
               " bytes before tensor '", v->name, "' at offset ", begin,
               " (safetensors data must be contiguous)");
    cursor = begin + v->nbytes;
    prev = v;
  }
  MART_CHECK(cursor == data_size, "safetensors '", path, "': ", data_size - cursor,
             " trailing bytes after the last tensor (data section is ", data_size,
             " bytes, tensors cover ", cursor, "); the header and the data disagree");
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& [name, v] : tensors_) out.push_back(name);
  return out;
}

const TensorView& SafetensorsFile::tensor(const std::string& name) const {
  auto it = tensors_.find(name);
  MART_CHECK(it != tensors_.end(), "safetensors '", path(), "' has no tensor '", name, "' (it has ",
             tensors_.size(), " tensors; list them with names())");
  return it->second;
}

// ---- writer ----

void SafetensorsWriter::add(const std::string& name, DType dtype, std::vector<int64_t> shape,
                            const void* data) {
  MART_CHECK(!name.empty(), "safetensors writer: tensor name must not be empty");
  MART_CHECK(name != kMetadataKey, "safetensors writer: '", kMetadataKey,
             "' is reserved for metadata; use set_metadata()");
  for (const Entry& e : entries_)
    MART_CHECK(e.name != name, "safetensors writer: tensor '", name, "' added twice");
  const int64_t numel = checked_numel(shape);
  MART_CHECK(numel >= 0, "safetensors writer: tensor '", name, "' has invalid shape ",
             shape_str(shape), " (dimensions must be non-negative)");
  const uint64_t nbytes = static_cast<uint64_t>(numel) * dtype_size(dtype);
  MART_CHECK(data != nullptr || nbytes == 0, "safetensors writer: tensor '", name,
             "' has null data for ", nbytes, " bytes");
  entries_.push_back(Entry{name, dtype, std::move(shape), data, nbytes});
}

void SafetensorsWriter::set_metadata(const std::string& key, const std::string& value) {
  metadata_[key] = value;
}

std::vector<const SafetensorsWriter::Entry*> SafetensorsWriter::data_order() const {
  std::vector<const Entry*> order;
  for (const Entry& e : entries_) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    const size_t sa = dtype_size(a->dtype), sb = dtype_size(b->dtype);
    return sa != sb ? sa > sb : a->name < b->name;
  });
  return order;
}

std::string SafetensorsWriter::header_bytes() const {
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const Entry* e : data_order()) {
    header[e->name] = {{"dtype", std::string(dtype_name(e->dtype))},
                       {"shape", e->shape},
                       {"data_offsets", {offset, offset + e->nbytes}}};
    offset += e->nbytes;
  }
  if (!metadata_.empty()) header[kMetadataKey] = metadata_;
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');  // keeps the data section 8-byte aligned
  std::string out(8, '\0');
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + json;
}

void SafetensorsWriter::write(const std::string& path,
                              const std::function<void(uint64_t bytes)>& on_bytes) const {
  const std::string header = header_bytes();
  const auto order = data_order();
  constexpr uint64_t kPiece = uint64_t{64} << 20;
  write_file_atomic(path, [&](FileSink& sink) {
    sink.write(header.data(), header.size());
    uint64_t done = 0;
    for (const Entry* e : order)
      for (uint64_t at = 0; at < e->nbytes; at += kPiece) {
        const uint64_t n = std::min(kPiece, e->nbytes - at);
        sink.write(static_cast<const char*>(e->data) + at, n);
        done += n;
        if (on_bytes) on_bytes(done);
      }
  });
}

}  // namespace mart
