// Reductions with a fixed partitioning: the result is the same bitwise for any thread count.
#include <cstddef>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"

namespace mart::cpu {

namespace {
constexpr size_t kBlock = 4096;
}  // namespace

// x[n] -> sum of x^2, in double: each 4096-element block summed in order, then the block sums in
// order.
template <class S>
double sumsq(const S* x, size_t n) {
  const size_t nblocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(nblocks);
#pragma omp parallel for
  for (ptrdiff_t blk = 0; blk < static_cast<ptrdiff_t>(nblocks); blk++) {
    const size_t i0 = static_cast<size_t>(blk) * kBlock;
    const size_t i1 = i0 + kBlock < n ? i0 + kBlock : n;
    double s = 0.0;
    for (size_t i = i0; i < i1; i++) s += static_cast<double>(x[i]) * x[i];
    partial[blk] = s;
  }
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

template double sumsq<float>(const float*, size_t);
template double sumsq<double>(const double*, size_t);

}  // namespace mart::cpu
