// Why PASSIVE: the CPU kernels parallelise with OpenMP, while the GEMMs run on OpenBLAS's own
// pthreads. With libgomp's default (threads spin at the end of each parallel region before they
// sleep), the spinning OpenMP workers hold the cores that OpenBLAS's threads need next, and every
// GEMM waits for them. Measured on the default job (2-core AMD EPYC, idle, 2026-11-22, 40 steps,
// OMP_NUM_THREADS=2): 2,000-2,100 tokens/s by default, 5,800-6,800 with OMP_WAIT_POLICY=PASSIVE
// (1 thread: 3,700-3,900); docs/PERFORMANCE.md. libgomp reads the variable in its load-time
// constructor, so setting it inside main is too late: the binary re-executes itself once with the
// variable set. A user who sets OMP_WAIT_POLICY (to anything) keeps their choice. Only the
// subcommands that compute pay for it: a re-execution loads every shared library twice.
#include "launcher/openmp_env.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace mart::cli {

bool command_computes(int argc, char** argv) {
  if (argc < 2) return false;
  return std::strcmp(argv[1], "train") == 0 || std::strcmp(argv[1], "profile") == 0;
}

void ensure_passive_openmp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
  execv("/proc/self/exe", argv);
  // exec failed (no /proc, say): carry on in this process with the runtime's default policy.
}

}  // namespace mart::cli
