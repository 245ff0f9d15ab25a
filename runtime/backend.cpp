#include "runtime/backend.h"

#include "device/cuda_backend.h"

namespace mart {

std::unique_ptr<Ops> make_ops(Device& dev) {
  if (dev.backend() == Backend::CPU) return make_cpu_ops();
  // A CUDA device exists only if the backend loaded; its ops come from the same library.
  return require_cuda_backend("CUDA ops").make_ops(dev);
}

}  // namespace mart
