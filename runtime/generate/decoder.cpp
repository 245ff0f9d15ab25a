#include "runtime/generate/decoder.h"

#include <algorithm>

#include "common/error.h"
#include "config/model_family.h"
#include "device/device.h"
#include "memory/device_arena.h"

namespace mart {
namespace {

void* byte_off(void* p, uint64_t bytes) {
  return static_cast<char*>(p) + bytes;
}

// The family's norm over N rows (LayerNorm: weight, bias, mean, rstd; RMSNorm: weight, rstd).
void norm(Ops& ops, const ModelSpec& spec, ModelStates& st, void* out, float* mean, float* rstd,
          const void* x, int w, int b, int N) {
  const int C = spec.cfg.d_model;
  switch (family_traits(spec.cfg.family).norm) {
    case NormKind::LayerNorm:
      ops.layernorm_forward(out, mean, rstd, x, st.param(w), b >= 0 ? st.param(b) : nullptr, N, C,
                            spec.cfg.norm_eps);
      return;
    case NormKind::RmsNorm:
      ops.rmsnorm_forward(out, rstd, x, st.param(w), N, C, spec.cfg.norm_eps);
      return;
  }
}

void* opt_param(ModelStates& st, int id) {
  return id >= 0 ? st.param(id) : nullptr;
}

}  // namespace

Decoder::Decoder(Session& session)
    : s_(session),
      spec_(session.spec()),
      ops_(session.ops()),
      asz_(dtype_size(session.ops().act_dtype())) {
  MART_CHECK(session.generation().has_value(),
             "Decoder: the Session was built without SessionOptions::generation, so its arena "
             "has no room for a KV cache; build it with generation = {batch, max_len}");
  const GenerationShape& g = *session.generation();
  B_ = g.batch, max_len_ = g.max_len, chunk_ = g.chunk;
  const auto& c = spec_.cfg;
  cache_ = std::make_unique<KvCache>(session.arena(), c.n_layer, c.n_kv_head, c.head_size(), B_,
                                     max_len_, ops_.act_dtype());
  layout_ = decoder_layout(spec_, ops_, B_, chunk_);
  region_ = session.arena().alloc(layout_.bytes, "decoder");
}

Decoder::~Decoder() {
  if (region_) s_.arena().free(region_);
}

void* Decoder::buf(uint64_t offset) const {
  return byte_off(region_.ptr, offset);
}

void Decoder::forward(std::span<const int32_t> tokens, int n, int pos, std::vector<float>* logits) {
  MART_CHECK(n >= 1, "Decoder::forward: no positions to run");
  MART_CHECK(tokens.size() == static_cast<size_t>(B_) * n, "Decoder::forward: ", tokens.size(),
             " tokens for ", B_, " sequences of ", n);
  MART_CHECK(pos >= 0 && pos <= length_, "Decoder::forward: position ", pos,
             " is past the cached length ", length_, " (positions must be contiguous)");
  MART_CHECK(pos + n <= max_len_, "the sequence would reach ", pos + n,
             " positions, but generation was set up for at most ", max_len_,
             " (the model's context or --max-tokens bound); shorten the prompt or the output");
  const int V = spec_.cfg.vocab_size;
  for (int32_t t : tokens)
    MART_CHECK(t >= 0 && t < V, "token id ", t, " is outside the model's vocabulary (", V, ")");
  std::vector<int32_t> part;
  for (int p0 = 0; p0 < n; p0 += chunk_) {
    const int m = std::min(chunk_, n - p0);
    part.resize(static_cast<size_t>(B_) * m);
    for (int b = 0; b < B_; ++b)
      std::copy_n(tokens.data() + static_cast<size_t>(b) * n + p0, m,
                  part.data() + static_cast<size_t>(b) * m);
    forward_chunk(part.data(), m, pos + p0);
    length_ = pos + p0 + m;
  }
  head(n - (n - 1) / chunk_ * chunk_, logits);  // rows of the last chunk
}

void Decoder::forward_chunk(const int32_t* tokens, int n, int pos) {
  const auto& c = spec_.cfg;
  ModelStates& st = s_.states();
  st.acquire(0, Pass::Forward);
  // GPT-2's learned positions: rows pos.. of the table are the rows this chunk needs.
  const void* wpe =
      spec_.wpe >= 0 ? byte_off(st.param(spec_.wpe), static_cast<uint64_t>(pos) * c.d_model * asz_)
                     : nullptr;
  ops_.embedding_forward(buf(layout_.x), tokens, st.param(spec_.wte), wpe, B_, n, c.d_model);
  st.release(0, Pass::Forward);
  for (int l = 0; l < c.n_layer; ++l) {
    st.acquire(l + 1, Pass::Forward);
    block(l, n, pos);
    st.release(l + 1, Pass::Forward);
  }
}

void Decoder::block(int l, int n, int pos) {
  const auto& c = spec_.cfg;
  const auto& p = spec_.blocks[l];
  ModelStates& st = s_.states();
  const int N = B_ * n, C = c.d_model, F = c.d_ff, HS = c.head_size(), A = c.n_head * HS;
  const size_t nC = static_cast<size_t>(N) * C;
  void *x = buf(layout_.x), *ln = buf(layout_.ln), *qkv = buf(layout_.qkv);
  void *att = buf(layout_.att), *tmp = buf(layout_.tmp);
  void *fc = buf(layout_.fc), *fc_act = buf(layout_.fc_act);
  auto* mean = static_cast<float*>(buf(layout_.mean));
  auto* rstd = static_cast<float*>(buf(layout_.rstd));
  const ModelFamilyTraits& fam = family_traits(c.family);
  norm(ops_, spec_, st, ln, mean, rstd, x, p.norm1_w, p.norm1_b, N);
  ops_.matmul_forward(qkv, nullptr, ln, st.param(p.qkv_w), opt_param(st, p.qkv_b), N, C,
                      c.qkv_width());
  switch (fam.positions) {
    case PositionKind::Learned:
      break;
    case PositionKind::Rope:
      ops_.rope_forward_at(qkv, qkv, B_, n, pos, c.n_head, c.n_kv_head, HS, c.rope_theta);
      break;
  }
  ops_.attention_decode(att, qkv, cache_->k(l), cache_->v(l), B_, n, pos, max_len_, c.n_head,
                        c.n_kv_head, HS);
  ops_.matmul_forward(tmp, nullptr, att, st.param(p.attn_out_w), opt_param(st, p.attn_out_b), N, A,
                      C);
  ops_.add(x, x, tmp, nC);
  norm(ops_, spec_, st, ln, mean, rstd, x, p.norm2_w, p.norm2_b, N);
  switch (fam.mlp) {
    case MlpKind::Gelu:
      ops_.matmul_forward(fc, fc_act, ln, st.param(p.fc_w), opt_param(st, p.fc_b), N, C, F);
      break;
    case MlpKind::SwiGlu:
      ops_.matmul_forward(fc, nullptr, ln, st.param(p.fc_w), opt_param(st, p.fc_b), N, C, 2 * F);
      ops_.swiglu_forward(fc_act, fc, N, F);
      break;
  }
  ops_.matmul_forward(tmp, nullptr, fc_act, st.param(p.proj_w), opt_param(st, p.proj_b), N, F, C);
  ops_.add(x, x, tmp, nC);
}

// Final norm and logits of each sequence's last row of the last chunk (n rows per sequence).
void Decoder::head(int n, std::vector<float>* logits) {
  const auto& c = spec_.cfg;
  ModelStates& st = s_.states();
  const int hg = spec_.head_group(), V = c.vocab_size;
  const bool tied = spec_.lm_head < 0;
  st.acquire(hg, Pass::Forward);
  if (tied) st.acquire(0, Pass::Forward);
  auto* out = static_cast<float*>(buf(layout_.logits));
  auto* mean = static_cast<float*>(buf(layout_.mean));
  auto* rstd = static_cast<float*>(buf(layout_.rstd));
  for (int b = 0; b < B_; ++b) {
    const uint64_t row = static_cast<uint64_t>(b) * n + (n - 1);
    void* x = byte_off(buf(layout_.x), row * c.d_model * asz_);
    void* ln = byte_off(buf(layout_.ln), row * c.d_model * asz_);
    norm(ops_, spec_, st, ln, mean, rstd, x, spec_.normf_w, spec_.normf_b, 1);
    ops_.logits_forward(out + static_cast<size_t>(b) * V, ln, st.param(spec_.head_weight()), 1,
                        c.d_model, V);
  }
  if (tied) st.release(0, Pass::Forward);
  st.release(hg, Pass::Forward);
  logits->resize(static_cast<size_t>(B_) * V);
  Device& dev = s_.device();
  dev.memcpy_async(logits->data(), out, logits->size() * 4, CopyKind::DeviceToHost, kComputeStream);
  dev.synchronize_stream(kComputeStream);
}

}  // namespace mart
