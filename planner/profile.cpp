#include "planner/profile.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <type_traits>
#include <variant>

#include "common/error.h"
#include "common/regular_file.h"
#include "planner/hardware_schema.h"

namespace mart {

using json = nlohmann::json;

namespace {

constexpr int kMaxProfileLayers = 1024;       // config_limits.h: model.n_layer
constexpr int kMaxProfileMicroBatch = 65536;  // config_limits.h: train.micro_batch
constexpr size_t kMaxProfileBytes = size_t{1} << 30;

// What a JSON value is, for "got ..." phrases: its kind and (short) text.
std::string got(const json& v) {
  std::string text = v.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return str(v.type_name(), " ", text);
}

// Converts one JSON value to T, checking its type and range here rather than letting nlohmann
// throw "[json.exception.type_error.302] ..." (which names neither the file nor the key) or
// silently wrap a negative number into a huge uint64_t.
template <class T>
T as(const json& v, const std::string& path);

template <>
bool as<bool>(const json& v, const std::string& path) {
  MART_CHECK(v.is_boolean(), "profile: key '", path, "' must be true or false, got ", got(v));
  return v.get<bool>();
}
template <>
std::string as<std::string>(const json& v, const std::string& path) {
  MART_CHECK(v.is_string(), "profile: key '", path, "' must be a string, got ", got(v));
  return v.get<std::string>();
}
template <>
int as<int>(const json& v, const std::string& path) {
  const bool ok = (v.is_number_unsigned() && v.get<uint64_t>() <= INT32_MAX) ||
                  (v.is_number_integer() && !v.is_number_unsigned() &&
                   v.get<int64_t>() >= INT32_MIN && v.get<int64_t>() <= INT32_MAX);
  MART_CHECK(ok, "profile: key '", path, "' must be a 32-bit integer, got ", got(v));
  return static_cast<int>(v.get<int64_t>());
}
template <>
uint64_t as<uint64_t>(const json& v, const std::string& path) {
  MART_CHECK(v.is_number_unsigned(), "profile: key '", path,
             "' must be a non-negative integer, got ", got(v));
  return v.get<uint64_t>();
}
template <>
double as<double>(const json& v, const std::string& path) {
  MART_CHECK(v.is_number(), "profile: key '", path, "' must be a number, got ", got(v));
  return v.get<double>();
}
template <class T>
std::vector<T> as_list(const json& v, const std::string& path) {
  MART_CHECK(v.is_array(), "profile: key '", path, "' must be a list, got ", got(v));
  std::vector<T> out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) out.push_back(as<T>(v[i], str(path, "[", i, "]")));
  return out;
}

// Reads j[key] as T (a scalar or a std::vector of one), naming the key path on a missing or
// mistyped value.
template <class T>
T get(const json& j, const char* key, const std::string& where) {
  MART_CHECK(j.is_object() && j.contains(key), "profile: missing key '", where, key, "'");
  if constexpr (requires { typename T::value_type; } && !std::is_same_v<T, std::string>)
    return as_list<typename T::value_type>(j.at(key), where + key);
  else
    return as<T>(j.at(key), where + key);
}

// j[key], which must be a JSON object.
const json& object_at(const json& j, const char* key, const std::string& where) {
  MART_CHECK(j.is_object() && j.contains(key), "profile: missing key '", where, key, "'");
  MART_CHECK(j.at(key).is_object(), "profile: key '", where, key, "' must be an object, got ",
             got(j.at(key)));
  return j.at(key);
}

template <class T>
T get_or(const json& j, const char* key, T dflt, const std::string& where) {
  return j.contains(key) ? get<T>(j, key, where) : dflt;
}

}  // namespace

const MicroBatchProfile* Profile::find(int b) const {
  for (auto& m : micro_batches)
    if (m.micro_batch == b) return &m;
  return nullptr;
}

bool Profile::supports(const std::string& m) const {
  for (auto& x : act_modes)
    if (x == m) return true;
  return false;
}

json to_json(const HardwareProfile& h) {
  json j = json::object();
  for (const HwField& f : hardware_fields())
    std::visit([&](auto m) { j[f.json] = h.*m; }, f.member);
  return j;
}

json to_json(const Profile& p) {
  const auto& m = p.model;
  json tensors = {{"numel", m.tensor_numel}, {"glue", m.tensor_glue}, {"group", m.tensor_group}};
  json model = {{"name", m.name},
                {"family", m.family},
                {"n_layer", m.n_layer},
                {"seq_len", m.seq_len},
                {"d_model", m.d_model},
                {"n_head", m.n_head},
                {"vocab", m.vocab},
                {"n_params", m.n_params},
                {"flops_per_token", m.flops_per_token},
                {"act_bytes", m.act_bytes},
                {"tied_head", m.tied_head},
                {"tensors", tensors}};
  json mbs = json::array();
  for (auto& b : p.micro_batches) {
    json modes = json::object();
    for (auto& [k, v] : b.act_mode_bytes) modes[k] = {{"device", v.device}, {"host", v.host}};
    mbs.push_back({{"micro_batch", b.micro_batch},
                   {"io_bytes", b.io_bytes},
                   {"inputs_bytes", b.inputs_bytes},
                   {"head_bytes", b.head_bytes},
                   {"scratch_bytes", b.scratch_bytes},
                   {"body_bytes", b.body_bytes},
                   {"body_act_values", b.body_act_values},
                   {"body_stat_bytes", b.body_stat_bytes},
                   {"codec_workspace_bytes", b.codec_workspace_bytes},
                   {"block_forward_s", b.block_forward_s},
                   {"block_backward_s", b.block_backward_s},
                   {"block_recompute_s", b.block_recompute_s},
                   {"embedding_forward_s", b.embedding_forward_s},
                   {"embedding_backward_s", b.embedding_backward_s},
                   {"head_s", b.head_s},
                   {"act_mode_bytes", modes}});
  }
  return {{"mart_profile_version", kProfileVersion},
          {"source", p.source},
          {"model", model},
          {"micro_batches", mbs},
          {"act_modes", p.act_modes},
          {"hardware", to_json(p.hardware)}};
}

HardwareProfile hardware_from_json(const json& j) {
  const std::string w = "hardware.";
  MART_CHECK(j.is_object(), "profile: 'hardware' must be an object");
  HardwareProfile h;
  std::vector<bool> present;
  for (const HwField& f : hardware_fields()) {
    present.push_back(j.contains(f.json));
    MART_CHECK(present.back() || !f.required, "profile: missing key '", w, f.json, "'");
    if (present.back())
      std::visit([&](auto m) { h.*m = get<std::decay_t<decltype(h.*m)>>(j, f.json, w); }, f.member);
  }
  apply_hardware_defaults(h, present);
  validate_hardware(h, "profile");
  return h;
}

Profile profile_from_json(const json& j) {
  MART_CHECK(j.is_object() && j.contains("mart_profile_version"),
             "not a MART profile: no 'mart_profile_version' key (write one with `mart profile`)");
  const int v = get<int>(j, "mart_profile_version", "");
  MART_CHECK(v == kProfileVersion, "profile version ", v,
             " is not supported (this mart reads "
             "version ",
             kProfileVersion, "); re-run `mart profile`");
  Profile p;
  p.source = get<std::string>(j, "source", "");
  const json& m = object_at(j, "model", "");
  const std::string w = "model.";
  p.model.name = get<std::string>(m, "name", w);
  p.model.family = get<std::string>(m, "family", w);
  p.model.n_layer = get<int>(m, "n_layer", w);
  p.model.seq_len = get<int>(m, "seq_len", w);
  p.model.d_model = get<int>(m, "d_model", w);
  p.model.n_head = get<int>(m, "n_head", w);
  p.model.vocab = get<int>(m, "vocab", w);
  p.model.n_params = get<uint64_t>(m, "n_params", w);
  p.model.flops_per_token = get<double>(m, "flops_per_token", w);
  p.model.act_bytes = get<int>(m, "act_bytes", w);
  p.model.tied_head = get<bool>(m, "tied_head", w);
  const json& t = object_at(m, "tensors", w);
  p.model.tensor_numel = get<std::vector<uint64_t>>(t, "numel", "model.tensors.");
  p.model.tensor_glue = get<std::vector<bool>>(t, "glue", "model.tensors.");
  p.model.tensor_group = get<std::vector<int>>(t, "group", "model.tensors.");
  const size_t n = p.model.tensor_numel.size();
  MART_CHECK(n > 0 && p.model.tensor_glue.size() == n && p.model.tensor_group.size() == n,
             "profile: model.tensors numel, glue and group must have the same, non-zero length");
  // The same bound as the job config's model.n_layer (config_limits.h): the planner walks every
  // block group, so a profile with n_layer 2^31-1 would never finish.
  MART_CHECK(p.model.n_layer > 0 && p.model.n_layer <= kMaxProfileLayers,
             "profile: model.n_layer = ", p.model.n_layer, " must be in [1, ", kMaxProfileLayers,
             "]");
  MART_CHECK(p.model.act_bytes == 2 || p.model.act_bytes == 4,
             "profile: model.act_bytes = ", p.model.act_bytes, " must be 2 or 4");
  for (int g : p.model.tensor_group)
    MART_CHECK(g >= 0 && g < p.model.n_groups(), "profile: tensor group ", g, " out of range");
  MART_CHECK(j.contains("micro_batches") && j.at("micro_batches").is_array() &&
                 !j.at("micro_batches").empty(),
             "profile: 'micro_batches' must be a non-empty array");
  for (size_t i = 0; i < j.at("micro_batches").size(); ++i) {
    const json& b = j.at("micro_batches")[i];
    const std::string wb = str("micro_batches[", i, "].");
    MART_CHECK(b.is_object(), "profile: micro_batches[", i, "] must be an object, got ", got(b));
    MicroBatchProfile mb;
    mb.micro_batch = get<int>(b, "micro_batch", wb);
    mb.io_bytes = get<uint64_t>(b, "io_bytes", wb);
    mb.inputs_bytes = get<uint64_t>(b, "inputs_bytes", wb);
    mb.head_bytes = get<uint64_t>(b, "head_bytes", wb);
    mb.scratch_bytes = get<uint64_t>(b, "scratch_bytes", wb);
    mb.body_bytes = get<uint64_t>(b, "body_bytes", wb);
    mb.body_act_values = get<uint64_t>(b, "body_act_values", wb);
    mb.body_stat_bytes = get<uint64_t>(b, "body_stat_bytes", wb);
    mb.codec_workspace_bytes = get_or<uint64_t>(b, "codec_workspace_bytes", 0, wb);
    mb.block_forward_s = get<double>(b, "block_forward_s", wb);
    mb.block_backward_s = get<double>(b, "block_backward_s", wb);
    mb.block_recompute_s = get<double>(b, "block_recompute_s", wb);
    mb.embedding_forward_s = get<double>(b, "embedding_forward_s", wb);
    mb.embedding_backward_s = get<double>(b, "embedding_backward_s", wb);
    mb.head_s = get<double>(b, "head_s", wb);
    if (b.contains("act_mode_bytes"))
      for (auto& [k, v] : object_at(b, "act_mode_bytes", wb).items())
        mb.act_mode_bytes[k] = {get<uint64_t>(v, "device", wb + "act_mode_bytes." + k + "."),
                                get<uint64_t>(v, "host", wb + "act_mode_bytes." + k + ".")};
    MART_CHECK(mb.micro_batch > 0 && mb.micro_batch <= kMaxProfileMicroBatch, "profile: ", wb,
               "micro_batch = ", mb.micro_batch, " must be in [1, ", kMaxProfileMicroBatch, "]");
    for (double t : {mb.block_forward_s, mb.block_backward_s, mb.block_recompute_s,
                     mb.embedding_forward_s, mb.embedding_backward_s, mb.head_s})
      MART_CHECK(t >= 0, "profile: ", wb, " times must not be negative, got ", t, " s");
    MART_CHECK(mb.body_act_values * p.model.act_bytes + mb.body_stat_bytes == mb.body_bytes,
               "profile: micro-batch ", mb.micro_batch,
               ": body_bytes != body_act_values * "
               "act_bytes + body_stat_bytes");
    p.micro_batches.push_back(mb);
  }
  std::sort(p.micro_batches.begin(), p.micro_batches.end(),
            [](auto& a, auto& b) { return a.micro_batch < b.micro_batch; });
  p.act_modes = get_or<std::vector<std::string>>(j, "act_modes", {"keep", "checkpoint"}, "");
  p.hardware = hardware_from_json(object_at(j, "hardware", ""));
  return p;
}

void save_profile(const Profile& p, const std::string& path) {
  std::ofstream f(path);
  MART_CHECK(f.good(), "cannot open ", path, " for writing");
  f << to_json(p).dump(2) << "\n";
  MART_CHECK(f.good(), "writing ", path, " failed");
}

Profile load_profile(const std::string& path) {
  // A FIFO, device or directory is refused before it is read (it could block forever).
  const std::string text = read_regular_file(path, "profile", kMaxProfileBytes);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 3, column 5: ..."; keep
    // the position and the reason, drop the library's tag.
    std::string why = e.what();
    if (why.rfind("[json.exception.", 0) == 0 && why.find("] ") != std::string::npos)
      why = why.substr(why.find("] ") + 2);
    MART_FAIL(path, " is not valid JSON: ", why);
  }
  try {
    return profile_from_json(j);
  } catch (const Error& e) {
    MART_FAIL(path, ": ", e.what());
  }
}

bool is_profile_file(const std::string& path) {
  if (!is_regular_file(path)) return false;  // never open a FIFO: it could block forever
  try {
    json j = json::parse(read_regular_file(path, "profile", kMaxProfileBytes));
    return j.is_object() && j.contains("mart_profile_version");
  } catch (const json::exception&) {
    return false;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace mart
