// The transformer's math, one block at a time, on any backend (through Ops). The executor decides
// where every buffer lives; this file only says what is computed from what.
//
// Per block (GPT-2 | Llama), N = B*T rows, saved tensors marked *:
//   ln1*  = LayerNorm(x_in*) | RMSNorm(x_in*)                    [N,C]   (+ mean*, rstd* | rstd*)
//   qkv*  = ln1 @ Wqkv^T + b | rope(ln1 @ Wqkv^T)                 [N,(NH+2NKV)*HS]
//   atty* = causal_attention(qkv)                                 [N,NH*HS] (+ lse* [B,NH,T])
//   res2* = x_in + atty @ Wo^T (+ bo)                             [N,C]
//   ln2*  = norm(res2)                                            [N,C]   (+ stats*)
//   fc*   = ln2 @ Wfc^T + b | ln2 @ [Wgate;Wup]^T                 [N,F] | [N,2F]
//   fc_act* = gelu(fc) | silu(gate)*up                            [N,F]
//   x_out = res2 + fc_act @ Wproj^T (+ bproj)                     [N,C]  (the next block's x_in)
// Backward runs the chain in reverse with ONE residual-gradient buffer dres [N,C]: it holds
// d(x_out) on entry, becomes d(res2) when norm2's backward accumulates into it, and d(x_in) when
// norm1's backward does.
#pragma once
#include "kernels/ops.h"
#include "runtime/model/model_spec.h"
#include "runtime/model/model_states.h"

namespace mart {

struct BlockActs {
  void *x_in, *ln1, *qkv, *atty, *res2, *ln2, *fc, *fc_act;  // act dtype
  float *ln1_mean, *ln1_rstd, *lse, *ln2_mean, *ln2_rstd;    // fp32 (mean: GPT-2 only)
};

// Resolves a block's tensors: x_in lives in its own (always resident) region; the "body" (every
// other saved tensor, then the fp32 statistics) is one contiguous region whose placement the
// activation manager chooses.
BlockActs block_acts(const ModelSpec& spec, int B, int T, size_t act_size, void* x_in, void* body,
                     size_t stat_size = 4);
// Bytes of a block's body: (act_elems - x_in_elems) * act_size + stat_elems * stat_size.
uint64_t block_body_bytes(const ModelSpec& spec, int B, int T, size_t act_size,
                          size_t stat_size = 4);

// Scratch shared by all blocks (not saved). Sizes in elements of the act dtype.
struct BlockScratch {
  void* tmp;   // [N, C]   forward: attention/MLP projection output; backward: dln
  void* dff1;  // [N, F]   d(fc_act)
  void* dff2;  // [N, F | 2F] d(fc)
  void* dqkv;  // [N, QKV]
  void* datt;  // [N, NH*HS]
};
uint64_t block_scratch_elems(const ModelSpec& spec, int B, int T);
BlockScratch block_scratch(const ModelSpec& spec, int B, int T, size_t act_size, void* base);

// x_out == nullptr (recompute for a checkpointed block) skips the final projection.
void block_forward(Ops& ops, const ModelSpec& spec, ModelStates& st, int layer, const BlockActs& a,
                   void* x_out, const BlockScratch& s, int B, int T);
void block_backward(Ops& ops, const ModelSpec& spec, ModelStates& st, int layer, const BlockActs& a,
                    void* dres, const BlockScratch& s, int B, int T);

// Final norm of the head: xf_in [N,C] -> lnf [N,C] (+ stats).
void final_norm_forward(Ops& ops, const ModelSpec& spec, ModelStates& st, void* lnf, float* mean,
                        float* rstd, const void* xf_in, int N);
// dres ACCUMULATES d(xf_in) from dlnf.
void final_norm_backward(Ops& ops, const ModelSpec& spec, ModelStates& st, void* dres,
                         const void* dlnf, const void* xf_in, const float* mean, const float* rstd,
                         int N);

}  // namespace mart
