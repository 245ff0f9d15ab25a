// CPU kernels for decoding with a KV cache (kernels/ops.h: attention_decode, rope_forward_at,
// logits_forward), templated on the scalar type like cpu_kernels.h. These are the fp32 reference
// (plain loops, OpenMP over independent rows); generation on the CPU spends its time in the
// matmuls, not here.
#pragma once

namespace mart::cpu {

template <class S>
void attention_decode(S* out, const S* qkv, S* k_cache, S* v_cache, int B, int T, int pos,
                      int max_T, int NH, int NKV, int HS);
template <class S>
void rope_forward_at(S* out, const S* inp, int B, int T, int pos, int NH, int NKV, int HS,
                     float theta);
template <class S>
void logits_forward(float* logits, const S* x, const S* wout, int N, int C, int V);

}  // namespace mart::cpu
