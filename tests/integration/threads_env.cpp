// Runs the in-process integration tests with one OpenMP and one OpenBLAS thread.
//
// Why: these tests check system behaviour (determinism, resume, accounting, learning) on tiny
// models, where threads buy nothing, and on a busy 2-core machine spinning OpenMP/OpenBLAS worker
// threads slow a tiny training step down by ~50x (measured: 1.3 s vs 63 s for 120 steps). Kernel
// parallelism is covered by tests/kernels; thread-count independence of the results (a documented
// promise of the CPU kernels) is checked explicitly in determinism_resume_test.cpp, which switches
// to 2 threads for one run. Subprocesses get the same setting through mart_bin().
#include "tests/common/kernel_threads_env.h"

namespace {

[[maybe_unused]] ::testing::Environment* const kEnv =
    ::testing::AddGlobalTestEnvironment(new mart::testutil::KernelThreadsEnvironment());

}  // namespace
