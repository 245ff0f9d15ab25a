// Runs the chunk pipeline tests with one OpenMP and one OpenBLAS thread, set before any test.
//
// Why: the models here are tiny, so kernel threads buy nothing, while on two shared cores the
// spinning OpenMP barriers and OpenBLAS's sched_yield loops compete with the threads the chunk
// pipeline itself adds (two copy-stream workers, the CPU Adam pool). Measured on the 14 parity
// tests: 3.2 s instead of 6.2 s (OpenBLAS), and 0.2 s instead of 4 s for one test (OpenMP).
// Under ThreadSanitizer one thread also keeps libgomp and OpenBLAS (not instrumented) from
// reporting false races. Parity does not depend on it: resident and chunked runs in one process
// use the same kernels with the same thread counts.
// MART_CHUNK_TEST_THREADS=n runs the kernels with n threads instead (e.g. to check parity with
// threaded kernels: scripts/tsan.sh leaves it unset).
#include "tests/common/kernel_threads_env.h"

namespace {

[[maybe_unused]] ::testing::Environment* const kEnv = ::testing::AddGlobalTestEnvironment(
    new mart::testutil::KernelThreadsEnvironment("MART_CHUNK_TEST_THREADS"));

}  // namespace
