#include "runtime/backend.h"

#include "common/error.h"
#ifdef MART_HAVE_CUDA
#include "cuda/cuda_ops.h"
#endif

namespace mart {

std::unique_ptr<Ops> make_ops(Device& dev) {
  if (dev.backend() == Backend::CPU) return make_cpu_ops();
#ifdef MART_HAVE_CUDA
  return make_cuda_ops(dev);
#else
  MART_FAIL("no CUDA ops in this build");
#endif
}

}  // namespace mart
