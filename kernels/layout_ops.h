// Ops that only answer layout questions (act dtype, statistics size, classifier workspace) for a
// backend this process cannot run — e.g. planning a CUDA job on a machine without a GPU — so the
// analytic profile can still call the executor's own executor_layout(). Every compute method
// throws. For the CPU backend use the real make_cpu_ops() instead (exact by construction).
#pragma once
#include <memory>

#include "kernels/ops.h"

namespace mart {

// The CUDA backend's layout: bf16 activations, fp32 statistics, and the classifier workspace of
// cuda/classifier.cu (rows_per_chunk(N, V) rows of the vocabulary padded to 64, bf16,
// rounded to 256 B; rows = min(N, max(128, floor(256 MiB / (Vp * 2) / 128) * 128))).
// tests/profiler_auto checks it against CudaOps where a CUDA build has a GPU.
std::unique_ptr<Ops> make_cuda_layout_ops();
size_t cuda_classifier_workspace_bytes(int N, int V);

}  // namespace mart
