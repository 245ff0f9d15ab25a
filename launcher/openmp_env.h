// The OpenMP wait policy `mart` runs with (see openmp_env.cpp for why it re-executes itself).
#pragma once

namespace mart::cli {

// True for the subcommands that compute with OpenMP (train, profile), the only ones worth a
// re-execution; plan, prepare-data and --help start at once.
bool command_computes(int argc, char** argv);

// When OMP_WAIT_POLICY is not set, sets it to PASSIVE and re-executes this binary with the same
// arguments, so that the OpenMP runtime (which reads it once, when it is loaded, before main)
// sees it. Returns only when no re-execution happened: the variable was already set (by the user,
// or by the re-executed parent), or exec failed (then mart runs with the runtime's default).
void ensure_passive_openmp_wait(char** argv);

}  // namespace mart::cli
