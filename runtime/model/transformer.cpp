#include "runtime/model/transformer.h"

namespace mart {
namespace {

void* off(void* base, uint64_t elems, size_t sz) {
  return static_cast<char*>(base) + elems * sz;
}
const ModelFamilyTraits& family(const ModelSpec& s) {
  return family_traits(s.cfg.family);
}
bool layernorm(const ModelSpec& s) {
  return family(s).norm == NormKind::LayerNorm;
}
// Optional parameter (bias): nullptr when the family has none.
void* opt_param(ModelStates& st, int id) {
  return id >= 0 ? st.param(id) : nullptr;
}
void* opt_grad(ModelStates& st, int id) {
  return id >= 0 ? st.grad(id) : nullptr;
}

// The family's norm (LayerNorm: weight, bias, mean and rstd; RMSNorm: weight and rstd).
void norm_forward(Ops& ops, const ModelSpec& spec, ModelStates& st, void* out, float* mean,
                  float* rstd, const void* x, int w, int b, int N, int C) {
  const float eps = spec.cfg.norm_eps;
  switch (family(spec).norm) {
    case NormKind::LayerNorm:
      ops.layernorm_forward(out, mean, rstd, x, st.param(w), st.param(b), N, C, eps);
      return;
    case NormKind::RmsNorm:
      ops.rmsnorm_forward(out, rstd, x, st.param(w), N, C, eps);
      return;
  }
}
void norm_backward(Ops& ops, const ModelSpec& spec, ModelStates& st, void* dx, const void* dout,
                   const void* x, const float* mean, const float* rstd, int w, int b, int N,
                   int C) {
  switch (family(spec).norm) {
    case NormKind::LayerNorm:
      ops.layernorm_backward(dx, st.grad(w), st.grad(b), dout, x, st.param(w), mean, rstd, N, C);
      return;
    case NormKind::RmsNorm:
      ops.rmsnorm_backward(dx, st.grad(w), dout, x, st.param(w), rstd, N, C);
      return;
  }
}

}  // namespace

uint64_t block_body_bytes(const ModelSpec& spec, int B, int T, size_t act_size, size_t stat_size) {
  auto L = spec.block_layout(B, T);
  return (L.act_elems - L.x_in_elems) * act_size + L.stat_elems * stat_size;
}

BlockActs block_acts(const ModelSpec& spec, int B, int T, size_t sz, void* x_in, void* body,
                     size_t ss) {
  auto L = spec.block_layout(B, T);
  const uint64_t skip = L.x_in_elems;  // body starts where x_in ends in the layout
  auto act = [&](uint64_t o) { return off(body, o - skip, sz); };
  char* stat_base = static_cast<char*>(off(body, L.act_elems - skip, sz));
  // Statistics are stat_size-byte elements (fp32, or fp64 for the reference backend).
  auto stat = [&](uint64_t o) { return reinterpret_cast<float*>(stat_base + o * ss); };
  BlockActs a;
  a.x_in = x_in;
  a.ln1 = act(L.ln1);
  a.qkv = act(L.qkv);
  a.atty = act(L.atty);
  a.res2 = act(L.res2);
  a.ln2 = act(L.ln2);
  a.fc = act(L.fc);
  a.fc_act = act(L.fc_act);
  const bool mean = layernorm(spec);  // RMSNorm keeps no mean
  a.ln1_mean = mean ? stat(L.ln1_mean) : nullptr;
  a.ln1_rstd = stat(L.ln1_rstd);
  a.lse = stat(L.lse);
  a.ln2_mean = mean ? stat(L.ln2_mean) : nullptr;
  a.ln2_rstd = stat(L.ln2_rstd);
  return a;
}

uint64_t block_scratch_elems(const ModelSpec& spec, int B, int T) {
  const uint64_t N = static_cast<uint64_t>(B) * T, C = spec.cfg.d_model, F = spec.cfg.d_ff;
  const uint64_t A = static_cast<uint64_t>(spec.cfg.n_head) * spec.cfg.head_size();
  return N * (C + F + mlp_in_factor(family(spec).mlp) * F + spec.cfg.qkv_width() + A);
}

BlockScratch block_scratch(const ModelSpec& spec, int B, int T, size_t sz, void* base) {
  const uint64_t N = static_cast<uint64_t>(B) * T, C = spec.cfg.d_model, F = spec.cfg.d_ff;
  const uint64_t A = static_cast<uint64_t>(spec.cfg.n_head) * spec.cfg.head_size();
  BlockScratch s;
  uint64_t o = 0;
  s.tmp = off(base, o, sz), o += N * C;
  s.dff1 = off(base, o, sz), o += N * F;
  s.dff2 = off(base, o, sz), o += N * mlp_in_factor(family(spec).mlp) * F;
  s.dqkv = off(base, o, sz), o += N * spec.cfg.qkv_width();
  s.datt = off(base, o, sz);
  (void)A;
  return s;
}

void block_forward(Ops& ops, const ModelSpec& spec, ModelStates& st, int l, const BlockActs& a,
                   void* x_out, const BlockScratch& s, int B, int T) {
  const auto& c = spec.cfg;
  const auto& p = spec.blocks[l];
  const int N = B * T, C = c.d_model, F = c.d_ff, HS = c.head_size(), QKV = c.qkv_width();
  const int A = c.n_head * HS;
  const size_t nC = static_cast<size_t>(N) * C;
  const ModelFamilyTraits& fam = family(spec);
  norm_forward(ops, spec, st, a.ln1, a.ln1_mean, a.ln1_rstd, a.x_in, p.norm1_w, p.norm1_b, N, C);
  ops.matmul_forward(a.qkv, nullptr, a.ln1, st.param(p.qkv_w), opt_param(st, p.qkv_b), N, C, QKV);
  switch (fam.positions) {
    case PositionKind::Learned:  // added to the embedding
      break;
    case PositionKind::Rope:
      ops.rope_forward(a.qkv, a.qkv, B, T, c.n_head, c.n_kv_head, HS, c.rope_theta);
      break;
  }
  ops.attention_forward(a.atty, a.lse, a.qkv, B, T, c.n_head, c.n_kv_head, HS);
  ops.matmul_forward(s.tmp, nullptr, a.atty, st.param(p.attn_out_w), opt_param(st, p.attn_out_b), N,
                     A, C);
  ops.add(a.res2, a.x_in, s.tmp, nC);
  norm_forward(ops, spec, st, a.ln2, a.ln2_mean, a.ln2_rstd, a.res2, p.norm2_w, p.norm2_b, N, C);
  switch (fam.mlp) {
    case MlpKind::Gelu:  // the matmul applies GELU as it writes fc_act
      ops.matmul_forward(a.fc, a.fc_act, a.ln2, st.param(p.fc_w), opt_param(st, p.fc_b), N, C, F);
      break;
    case MlpKind::SwiGlu:
      ops.matmul_forward(a.fc, nullptr, a.ln2, st.param(p.fc_w), opt_param(st, p.fc_b), N, C,
                         2 * F);
      ops.swiglu_forward(a.fc_act, a.fc, N, F);
      break;
  }
  if (!x_out) return;  // recompute: backward needs the saved tensors, not the block's output
  ops.matmul_forward(s.tmp, nullptr, a.fc_act, st.param(p.proj_w), opt_param(st, p.proj_b), N, F,
                     C);
  ops.add(x_out, a.res2, s.tmp, nC);
}

void block_backward(Ops& ops, const ModelSpec& spec, ModelStates& st, int l, const BlockActs& a,
                    void* dres, const BlockScratch& s, int B, int T) {
  const auto& c = spec.cfg;
  const auto& p = spec.blocks[l];
  const int N = B * T, C = c.d_model, F = c.d_ff, HS = c.head_size(), QKV = c.qkv_width();
  const int A = c.n_head * HS;
  // MLP: dres = d(x_out) feeds the projection; norm2's backward turns dres into d(res2).
  ops.matmul_backward(s.dff1, st.grad(p.proj_w), opt_grad(st, p.proj_b), dres, a.fc_act,
                      st.param(p.proj_w), N, F, C);
  const ModelFamilyTraits& fam = family(spec);
  switch (fam.mlp) {
    case MlpKind::Gelu:
      ops.gelu_backward(s.dff2, a.fc, s.dff1, static_cast<size_t>(N) * F);
      ops.matmul_backward(s.tmp, st.grad(p.fc_w), opt_grad(st, p.fc_b), s.dff2, a.ln2,
                          st.param(p.fc_w), N, C, F);
      break;
    case MlpKind::SwiGlu:
      ops.swiglu_backward(s.dff2, s.dff1, a.fc, N, F);
      ops.matmul_backward(s.tmp, st.grad(p.fc_w), opt_grad(st, p.fc_b), s.dff2, a.ln2,
                          st.param(p.fc_w), N, C, 2 * F);
      break;
  }
  norm_backward(ops, spec, st, dres, s.tmp, a.res2, a.ln2_mean, a.ln2_rstd, p.norm2_w, p.norm2_b, N,
                C);
  // Attention: dres = d(res2) feeds the output projection; norm1's backward makes it d(x_in).
  ops.matmul_backward(s.datt, st.grad(p.attn_out_w), opt_grad(st, p.attn_out_b), dres, a.atty,
                      st.param(p.attn_out_w), N, A, C);
  ops.attention_backward(s.dqkv, s.datt, a.qkv, a.atty, a.lse, B, T, c.n_head, c.n_kv_head, HS);
  switch (fam.positions) {
    case PositionKind::Learned:
      break;
    case PositionKind::Rope:
      ops.rope_backward(s.dqkv, s.dqkv, B, T, c.n_head, c.n_kv_head, HS, c.rope_theta);
      break;
  }
  ops.matmul_backward(s.tmp, st.grad(p.qkv_w), opt_grad(st, p.qkv_b), s.dqkv, a.ln1,
                      st.param(p.qkv_w), N, C, QKV);
  norm_backward(ops, spec, st, dres, s.tmp, a.x_in, a.ln1_mean, a.ln1_rstd, p.norm1_w, p.norm1_b, N,
                C);
}

void final_norm_forward(Ops& ops, const ModelSpec& spec, ModelStates& st, void* lnf, float* mean,
                        float* rstd, const void* xf_in, int N) {
  norm_forward(ops, spec, st, lnf, mean, rstd, xf_in, spec.normf_w, spec.normf_b, N,
               spec.cfg.d_model);
}

void final_norm_backward(Ops& ops, const ModelSpec& spec, ModelStates& st, void* dres,
                         const void* dlnf, const void* xf_in, const float* mean, const float* rstd,
                         int N) {
  norm_backward(ops, spec, st, dres, dlnf, xf_in, mean, rstd, spec.normf_w, spec.normf_b, N,
                spec.cfg.d_model);
}

}  // namespace mart
