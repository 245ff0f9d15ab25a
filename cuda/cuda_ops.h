// The CUDA implementation of the op interface (kernels/ops.h): bf16 activations and gradients,
// fp32 statistics, losses and optimizer state, fp32 accumulation everywhere.
//
//   auto dev = make_cuda_device(0);
//   auto ops = make_cuda_ops(*dev);   // every op is enqueued on dev->native_stream(kComputeStream)
//
// Contract beyond ops.h:
//  - Ops are asynchronous: they enqueue work on the compute stream and return. No op synchronises
//    the host and no op allocates device memory, with one documented exception below.
//  - Pointers are device pointers, except token/target ids (embedding_*, classifier_*), which may
//    also be host memory (pinned is used in place; pageable is staged through a device buffer).
//  - Workspaces owned by CudaOps, all taken from the Device with raw_malloc:
//      at construction: 32 MiB cuBLASLt workspace + 64 KiB of small reduction buffers;
//      lazily, once per new maximum: one scratch buffer shared by all ops (they run in stream
//      order, so one op's scratch is free again when the next op starts). It holds the cuDNN
//      attention workspace, deterministic-reduction partials and id staging. It grows only when an
//      op needs more than any op before it (a fixed-shape training loop grows it during its first
//      step only); growing synchronises the compute stream once and frees the old buffer.
//    cuda_ops_private_bytes() reports the current total so the planner can account for it.
//  - Determinism: every MART kernel reduces in a fixed order (no float atomics), so repeated runs
//    are bitwise identical. cuBLASLt is deterministic for a fixed algorithm. cuDNN's attention
//    backward accumulates dQ with atomics unless MART_CUDNN_DETERMINISTIC=1 (which uses cuDNN's
//    deterministic path: more workspace, somewhat slower).
//  - adamw_update: seed == 0 rounds the bf16 parameter to nearest-even; any other seed rounds
//    stochastically with a per-element hash of (seed, element index), so results do not depend on
//    the launch configuration. Pass a seed that differs per step and per tensor (e.g. a hash of
//    both), or element i of every tensor gets the same random bits. master/m/v follow the CPU
//    reference's operation order exactly (bitwise equal to cpu::adamw_update<float>).
//  - Environment: MART_ATTENTION=cudnn|fallback|auto (default auto: cuDNN SDPA where cuDNN accepts
//    the shape, MART's own attention kernels otherwise); MART_CUDNN_DETERMINISTIC=1 as above.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

#include "common/error.h"
#include "device/device.h"
#include "kernels/ops.h"

namespace mart {

#ifdef MART_HAVE_CUDA
// Throws mart::Error if dev is not a CUDA device or cuBLASLt cannot initialise.
std::unique_ptr<Ops> make_cuda_ops(Device& dev);
// Bytes of device memory the CudaOps currently holds outside the arena (workspaces + scratch).
size_t cuda_ops_private_bytes(const Ops& ops);
// "" when attention of this shape runs on cuDNN (building the plan if needed), else why it runs on
// MART's own kernels. For tests and diagnostics.
std::string cuda_attention_status(Ops& ops, bool backward, int B, int T, int NH, int NKV, int HS);
#else
inline std::unique_ptr<Ops> make_cuda_ops(Device&) {
  MART_FAIL(
      "CUDA ops requested but this MART was built without CUDA (configure with the 'cuda' "
      "preset on a machine with the CUDA Toolkit)");
}
inline size_t cuda_ops_private_bytes(const Ops&) {
  return 0;
}
inline std::string cuda_attention_status(Ops&, bool, int, int, int, int, int) {
  return "MART was built without CUDA";
}
#endif

}  // namespace mart
