// mart_host_alloc / mart_host_free: pinned, NUMA-local host memory from the process-wide
// HostAllocator (capi/host_memory.h).
#include <cstdint>
#include <sstream>

#include "capi/capi_guard.h"
#include "capi/host_memory.h"

using mart::capi::fail;
using mart::capi::guarded;

extern "C" {

mart_status mart_host_alloc(size_t bytes, int32_t numa_node, void** out) {
  return guarded("mart_host_alloc", MART_ERR_INVALID_ARGUMENT, [&] {
    mart::capi::require_arg(out, "out");
    const unsigned node = mart::capi::resolve_numa_node(numa_node, "numa_node");
    *out = mart::capi::host_allocate(bytes, node);
  });
}

mart_status mart_host_free(void* ptr) {
  return guarded("mart_host_free", MART_ERR_INVALID_ARGUMENT, [&] {
    if (!ptr) return;
    mart::HostAllocator& alloc = mart::capi::process_host_allocator();
    try {
      alloc.block_size(ptr);  // throws when ptr is not the start of a live block
    } catch (const mart::Error&) {
      std::ostringstream os;
      os << ptr;
      fail(MART_ERR_INVALID_ARGUMENT,
           "pointer " + os.str() +
               " is not a live block from mart_host_alloc (freed twice, an address inside a "
               "block, or memory from another allocator); nothing was freed");
    }
    // A second thread freeing the same block at once makes this throw instead (nothing freed).
    alloc.deallocate(ptr);
  });
}

}  // extern "C"
