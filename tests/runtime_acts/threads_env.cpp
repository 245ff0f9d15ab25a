// Runs this suite with one OpenMP and one OpenBLAS thread.
//
// Why: these tests check system behaviour (bitwise parity, overlap, accounting, error bounds,
// learning) on tiny models, where threads buy nothing, and on a busy 2-core machine spinning
// OpenMP worker threads slow them down ~20x (measured: 218 s with OMP_NUM_THREADS=2 vs 10 s with
// one thread for this suite). The swap copy streams are the device's own worker threads, not
// OpenMP, so the overlap test still sees real concurrency. Same choice as
// tests/integration/threads_env.cpp, where thread-count independence is checked.
#include "tests/common/kernel_threads_env.h"

namespace {

[[maybe_unused]] ::testing::Environment* const kEnv =
    ::testing::AddGlobalTestEnvironment(new mart::testutil::KernelThreadsEnvironment());

}  // namespace
