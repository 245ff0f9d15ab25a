#include "capi/host_memory.h"

#include <cstdint>
#include <sstream>

#include "capi/capi_guard.h"
#include "common/units.h"

namespace mart::capi {
namespace {

// HostAllocator refuses requests above 2^48 bytes (its roundings stay free of overflow); the C API
// reports them as the out-of-memory they are rather than as a bad argument.
constexpr uint64_t kMaxHostRequest = 1ull << 48;

std::string node_list(const NumaTopology& topo) {
  std::ostringstream os;
  for (size_t i = 0; i < topo.nodes().size(); ++i)
    os << (i ? ", " : "") << topo.nodes()[i].os_index;
  return os.str();
}

}  // namespace

const NumaTopology& process_topology() {
  static const NumaTopology topo = NumaTopology::load_this_system();
  return topo;
}

unsigned default_numa_node() {
  // gpu_local_nodes falls back to the first node without a CUDA backend or device.
  static const unsigned node = process_topology().gpu_local_nodes(0).node();
  return node;
}

unsigned resolve_numa_node(int numa_node, const char* what) {
  const NumaTopology& topo = process_topology();
  if (numa_node == -1) return default_numa_node();
  if (numa_node < 0 || !topo.has_node(static_cast<unsigned>(numa_node)))
    fail(MART_ERR_INVALID_ARGUMENT,
         str("`", what, "` is ", numa_node,
             ", which is not a NUMA node of this machine; nodes are [", node_list(topo), "] (",
             topo.describe(), "). Pass one of them, or -1 for the node ", "nearest the device"));
  return static_cast<unsigned>(numa_node);
}

HostAllocator& process_host_allocator() {
  static HostAllocator* const alloc = [] {
    HostAllocatorOptions o;
    o.default_node = static_cast<int>(default_numa_node());
    // Smaller shared slabs than a Session's: on CUDA the whole slab is pinned at once, and
    // callers of mart_host_alloc are mostly few, large buffers (dedicated slabs of their own).
    o.slab_bytes = 64ull << 20;
    return new HostAllocator(process_topology(), o);  // never freed: see host_memory.h
  }();
  return *alloc;
}

void* host_allocate(size_t bytes, unsigned node) {
  if (bytes == 0) return nullptr;
  if (bytes > kMaxHostRequest)
    fail(MART_ERR_OUT_OF_MEMORY,
         str("cannot allocate ", bytes, " bytes of host memory: requests above ",
             format_bytes(kMaxHostRequest), " are beyond any machine (is the size a negative ",
             "number converted to size_t?)"));
  try {
    return process_host_allocator().allocate(bytes, static_cast<int>(node));
  } catch (const PinnedHostExhausted& e) {
    fail(MART_ERR_OUT_OF_MEMORY, e.what());
  }
}

}  // namespace mart::capi
