// Reductions with a fixed partitioning: the result is the same bitwise for any thread count.
#include <cstddef>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"

namespace mart::cpu {

namespace {
constexpr size_t kBlock = 4096;

// Sum of x[i0..i1)^2 in double over kLanes interleaved accumulators (element i goes to lane
// i % kLanes), the lanes then added in order. One running sum is a chain of dependent adds
// (latency-bound: ~3% of a CPU training step); independent lanes let the compiler vectorise, and
// the order stays fixed, so the result is the same on every machine and thread count.
template <class S>
double block_sumsq(const S* x, size_t i0, size_t i1) {
  constexpr size_t kLanes = 8;
  double lane[kLanes] = {};
  size_t i = i0;
  for (; i + kLanes <= i1; i += kLanes)
    for (size_t l = 0; l < kLanes; l++) lane[l] += static_cast<double>(x[i + l]) * x[i + l];
  for (size_t l = 0; i < i1; i++, l++) lane[l] += static_cast<double>(x[i]) * x[i];
  double s = 0.0;
  for (double v : lane) s += v;
  return s;
}

}  // namespace

// x[n] -> sum of x^2, in double: each 4096-element block summed by block_sumsq, then the block
// sums in order.
template <class S>
double sumsq(const S* x, size_t n) {
  const size_t nblocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(nblocks);
#pragma omp parallel for
  for (ptrdiff_t blk = 0; blk < static_cast<ptrdiff_t>(nblocks); blk++) {
    const size_t i0 = static_cast<size_t>(blk) * kBlock;
    const size_t i1 = i0 + kBlock < n ? i0 + kBlock : n;
    partial[blk] = block_sumsq(x, i0, i1);
  }
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

template double sumsq<float>(const float*, size_t);
template double sumsq<double>(const double*, size_t);

}  // namespace mart::cpu
