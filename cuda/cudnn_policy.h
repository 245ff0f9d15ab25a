// Which cuDNN versions and shapes MART trusts with its causal SDPA graphs (attention_cudnn.cu),
// as pure functions of the number cudnnGetVersion() returns. No CUDA or cuDNN header is included,
// so the rules are unit-tested on machines without a GPU (tests/gpu/cudnn_policy_test.cpp) and
// the GPU tests derive their "must run on cuDNN" expectations from the same rules.
//
// cuDNN 9 encodes its version as major * 10000 + minor * 100 + patch (cudnn_version.h), e.g.
// 91001 is 9.10.1.
#pragma once
#include <cstddef>
#include <string>

namespace mart::cuda {

struct CudnnVersion {
  int major = 0, minor = 0, patch = 0;
};

inline CudnnVersion cudnn_version_parts(size_t v) {
  return CudnnVersion{int(v / 10000), int(v / 100 % 100), int(v % 100)};
}

// "9.10.1".
inline std::string cudnn_version_string(size_t v) {
  const CudnnVersion p = cudnn_version_parts(v);
  return std::to_string(p.major) + "." + std::to_string(p.minor) + "." + std::to_string(p.patch);
}

// Versions whose bf16 SDPA backward gives wrong results (known issue): refused, so the backward
// runs on MART's own kernels there.
inline bool cudnn_sdpa_backward_is_broken(size_t v) {
  return v >= 91000 && v < 91002;  // 9.10.0 and 9.10.1
}

// Below 9.16 cuDNN's SDPA backward is only trusted with the sequence length a multiple of 128
// (earlier releases fixed faults for other lengths only partly; see docs/PERFORMANCE.md).
inline bool cudnn_sdpa_backward_needs_t128(size_t v) {
  return v < 91600;
}

// Why cuDNN `version` must not run this causal bf16 SDPA pass (forward, or backward), or "" when
// it may. cuDNN can still reject an allowed shape when the plan is built or first executed.
inline std::string cudnn_sdpa_refusal(size_t version, bool backward, int T, int HS) {
  if (HS % 8 != 0 || HS > 256)
    return "head size " + std::to_string(HS) + " (cuDNN needs a multiple of 8, at most 256)";
  if (!backward) return "";
  const std::string ver = "cuDNN " + cudnn_version_string(version);
  if (cudnn_sdpa_backward_is_broken(version))
    return ver + " gives wrong bf16 attention backward results (9.10.0 and 9.10.1 are known " +
           "bad; use another cuDNN release)";
  if (cudnn_sdpa_backward_needs_t128(version) && T % 128 != 0)
    return ver + " < 9.16 needs T % 128 == 0 in backward (T=" + std::to_string(T) + ")";
  return "";
}

#ifdef MART_HAVE_CUDA
// cudnnGetVersion() of the cuDNN loaded in this process (cuda_ops.cu), for tests and reports.
size_t loaded_cudnn_version();
#endif

}  // namespace mart::cuda
