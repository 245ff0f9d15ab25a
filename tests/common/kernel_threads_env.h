// A GoogleTest environment that sets the OpenMP and OpenBLAS thread counts before any test of a
// binary runs: one thread, or the count in the environment variable `env_var` when it is set.
// Each folder's threads_env.cpp registers it and says why that suite wants it.
#pragma once
#include <cblas.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>

namespace mart::testutil {

class KernelThreadsEnvironment : public ::testing::Environment {
 public:
  explicit KernelThreadsEnvironment(const char* env_var = nullptr) : env_var_(env_var) {}
  void SetUp() override {
    const char* v = env_var_ ? std::getenv(env_var_) : nullptr;
    const int n = v ? std::max(1, std::atoi(v)) : 1;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
  }

 private:
  const char* env_var_;
};

}  // namespace mart::testutil
