// mart_session_param_info / find / get / set and init_weights: parameters by Hugging Face name in
// Hugging Face's layout (GPT-2 Conv1D weights transposed, as runtime/checkpoint/hf_checkpoint.cpp
// writes them), through ModelStates::read_param / write_param (resident or chunked alike).
#include <algorithm>
#include <cstring>
#include <vector>

#include "capi/session_handle.h"
#include "config/suggest.h"

using mart::capi::fail;
using mart::capi::require_arg;
using mart::capi::with_session;

namespace {

// The index of `name`; MART_ERR_NOT_FOUND naming the closest names otherwise.
int find_param(const mart_session& h, const char* name) {
  require_arg(name, "name");
  auto it = h.index_of.find(name);
  if (it != h.index_of.end()) return it->second;
  std::vector<std::string> names;
  for (const mart::ParamInfo& p : h.session->spec().params) names.push_back(p.name);
  // The three names nearest by edit distance (the model's own names, not a guess).
  std::stable_sort(names.begin(), names.end(), [&](const std::string& a, const std::string& b) {
    return mart::config_detail::edit_distance(a, name) < mart::config_detail::edit_distance(b, name);
  });
  std::string close;
  for (size_t i = 0; i < names.size() && i < 3; ++i) close += (i ? "', '" : "'") + names[i];
  fail(MART_ERR_NOT_FOUND, std::string("the model has no parameter named '") + name +
                               "'; the closest are " + close +
                               "' (mart_session_param_info lists every name)");
}

void check_numel(const mart::ParamInfo& p, size_t numel) {
  if (numel != p.numel)
    fail(MART_ERR_INVALID_ARGUMENT, "`numel` is " + std::to_string(numel) + " but '" + p.name +
                                        "' has " + std::to_string(p.numel) + " elements");
}

// x [rows, cols] -> [cols, rows]
std::vector<float> transpose(const float* x, int64_t rows, int64_t cols) {
  std::vector<float> y(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) y[c * rows + r] = x[r * cols + c];
  return y;
}

}  // namespace

extern "C" {

mart_status mart_session_param_info(mart_session* session, int32_t index, mart_param_info* out) {
  return with_session("mart_session_param_info", MART_ERR_INTERNAL, session, [&](mart_session& h) {
    require_arg(out, "out");
    const auto& params = h.session->spec().params;
    if (index < 0 || static_cast<size_t>(index) >= params.size())
      fail(MART_ERR_INVALID_ARGUMENT, "`index` is " + std::to_string(index) +
                                          "; it must lie in [0, n_tensors = " +
                                          std::to_string(params.size()) + ")");
    const mart::ParamInfo& p = params[static_cast<size_t>(index)];
    mart_param_info info{};
    info.name = p.name.c_str();  // lives in the spec, as long as the session
    info.ndim = static_cast<int32_t>(p.shape.size());
    for (size_t d = 0; d < p.shape.size() && d < 4; ++d) info.shape[d] = p.shape[d];
    if (p.transpose_io) std::swap(info.shape[0], info.shape[1]);  // [in, out] in HF files
    info.numel = static_cast<int64_t>(p.numel);
    *out = info;
  });
}

mart_status mart_session_param_find(mart_session* session, const char* name,
                                    int32_t* out_index) {
  return with_session("mart_session_param_find", MART_ERR_INTERNAL, session, [&](mart_session& h) {
    require_arg(out_index, "out_index");
    *out_index = find_param(h, name);
  });
}

mart_status mart_session_param_get(mart_session* session, const char* name, float* dst,
                                   size_t numel) {
  return with_session("mart_session_param_get", MART_ERR_INTERNAL, session, [&](mart_session& h) {
    const int i = find_param(h, name);
    require_arg(dst, "dst");
    const mart::ParamInfo& p = h.session->spec().params[static_cast<size_t>(i)];
    check_numel(p, numel);
    std::vector<float> v(p.numel);
    h.session->states().read_param(i, v.data());
    if (p.transpose_io) v = transpose(v.data(), p.shape[0], p.shape[1]);
    std::memcpy(dst, v.data(), p.numel * sizeof(float));
  });
}

mart_status mart_session_param_set(mart_session* session, const char* name, const float* src,
                                   size_t numel) {
  return with_session("mart_session_param_set", MART_ERR_INTERNAL, session, [&](mart_session& h) {
    const int i = find_param(h, name);
    require_arg(src, "src");
    const mart::ParamInfo& p = h.session->spec().params[static_cast<size_t>(i)];
    check_numel(p, numel);
    if (p.transpose_io) {  // HF [in, out] -> internal [out, in]
      const std::vector<float> v = transpose(src, p.shape[1], p.shape[0]);
      h.session->states().write_param(i, v.data());
    } else {
      h.session->states().write_param(i, src);
    }
  });
}

mart_status mart_session_init_weights(mart_session* session, uint64_t seed) {
  return with_session("mart_session_init_weights", MART_ERR_INTERNAL, session,
                      [&](mart_session& h) { h.session->init_weights(seed); });
}

}  // extern "C"
