// The fp32 activation loops with an explicit instruction-set choice, so tests can check that
// every path gives the same bits. cpu::gelu_forward<float> and friends call these with the widest
// path the CPU supports; the double instantiations stay on the std:: functions (they are the
// reference backend).
#pragma once
#include <cstddef>
#include <cstdint>

namespace mart::cpu {

// Base: the build's baseline ISA (x86-64 SSE2), still vectorised; Avx2 / Avx512: 8 / 16 lanes.
enum class ActIsa : uint8_t { Base, Avx2, Avx512 };

const char* act_isa_name(ActIsa isa);
bool act_isa_supported(ActIsa isa);
// The widest supported path (chosen once).
ActIsa act_isa_default();

// Elementwise over [0, n), single-threaded (callers split the range). out may alias inp.
void gelu_forward_f32(float* out, const float* inp, size_t n, ActIsa isa);
void gelu_backward_f32(float* dinp, const float* inp, const float* dout, size_t n, ActIsa isa);
void tanh_forward_f32(float* out, const float* inp, size_t n, ActIsa isa);
// One SwiGLU row of F features: gate g, up u (see cpu::swiglu_forward/backward).
void swiglu_forward_row_f32(float* out, const float* g, const float* u, int F, ActIsa isa);
void swiglu_backward_row_f32(float* dg, float* du, const float* dout, const float* g,
                             const float* u, int F, ActIsa isa);

}  // namespace mart::cpu
