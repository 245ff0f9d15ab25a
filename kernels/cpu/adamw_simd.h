// Fused one-pass AdamW for the host-side optimizer (CPU Adam of offloaded chunks).
//
// One pass over n elements reads grad (fp32 or bf16), master, m, v and writes master, m, v and,
// optionally, the updated param converted to the upload dtype (fp32 or bf16, round-to-nearest-even
// as mart::f32_to_bf16) straight into the upload buffer, so no second pass over the chunk is
// needed.
//
// Invariant: every ISA path is BITWISE equal to the scalar reference, which is the operation order
// of mart::cpu::adamw_update<float> (kernels/cpu/cpu_kernels.h): no FMA (mul then add), true
// division and sqrt (both correctly rounded in SSE/AVX), the same operand pairs in the same order.
// The update is elementwise, so any split of [0, n) gives the same bits too.
#pragma once
#include <cstddef>
#include <cstdint>

#include "common/dtype.h"
#include "kernels/ops.h"

namespace mart::cpu {

enum class AdamIsa : uint8_t { Scalar, Avx2, Avx512 };

// "scalar", "avx2", "avx512".
const char* adam_isa_name(AdamIsa isa);
// Parses a name as above; throws mart::Error naming the text otherwise.
AdamIsa adam_isa_from_name(const char* name);
// Whether this CPU can run the path (__builtin_cpu_supports; scalar always).
bool adam_isa_supported(AdamIsa isa);
// The widest supported path, or the one forced by MART_CPU_ADAM_ISA=scalar|avx2|avx512. Throws
// mart::Error when the variable names an unknown path or one this CPU lacks.
AdamIsa adam_isa_default();

// The per-call constants, computed once on the host (bias corrections in double, as the reference).
struct AdamWConsts {
  float lr, beta1, beta2, one_minus_beta1, one_minus_beta2;
  float bc1, bc2;  // (float)(1 - pow((double)beta, step))
  float eps, weight_decay, grad_scale;
};
// Validates h (step >= 1, betas in [0,1), eps > 0, lr/grad_scale finite) and derives the constants.
AdamWConsts adamw_consts(const AdamWHyper& h);

// The buffers of one update. grad_dtype and out_dtype are F32 or BF16. out may be null (no param
// copy wanted). The buffers must not overlap one another.
struct AdamWSpan {
  const void* grad = nullptr;
  DType grad_dtype = DType::F32;
  float* master = nullptr;
  float* m = nullptr;
  float* v = nullptr;
  void* out = nullptr;
  DType out_dtype = DType::BF16;
  size_t n = 0;
};

// Throws mart::Error naming the bad field (null buffer, unsupported dtype).
void adamw_validate(const AdamWSpan& s);

// Updates elements [begin, end) of s with the given path (which must be supported: checked).
// stream_out: write out with non-temporal stores (it is an upload buffer nobody reads soon; saves
// the read-for-ownership of its lines). The call ends with an sfence when it streamed, so the
// stores are globally visible before the caller signals completion.
void adamw_simd(const AdamWSpan& s, size_t begin, size_t end, const AdamWConsts& k, AdamIsa isa,
                bool stream_out = true);
inline void adamw_simd(const AdamWSpan& s, const AdamWConsts& k, AdamIsa isa) {
  adamw_simd(s, 0, s.n, k, isa, true);
}

// Bytes one element moves: grad read, master/m/v read and written, out written.
size_t adamw_bytes_per_element(const AdamWSpan& s);

}  // namespace mart::cpu
