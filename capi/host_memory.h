// The process-wide host memory behind mart_host_alloc and mart_adamw: one NUMA topology and one
// pinned HostAllocator (memory/host_allocator.h), built on first use and shared by every caller
// and thread. Why one: each HostAllocator maps its own slabs (and pins them on CUDA), so one per
// object would multiply pinned memory for nothing; and a pointer from mart_host_alloc must be
// freeable from any thread without naming its allocator.
//
// The allocator is never destroyed: blocks may be live at exit, and a static destructor would
// race other static destructors (and print the live-block report) for no benefit.
#pragma once
#include <string>

#include "memory/host_allocator.h"
#include "memory/numa_topology.h"

namespace mart::capi {

// This machine's topology, loaded once. Thread-safe.
const NumaTopology& process_topology();

// The node mart_host_alloc and mart_adamw use for numa_node -1: the node nearest CUDA device 0
// when one is present (this asks the CUDA backend, loading it when built), else the first node.
unsigned default_numa_node();

// `numa_node` as an OS node index: -1 gives default_numa_node(); a node that does not exist fails
// with MART_ERR_INVALID_ARGUMENT naming it and listing the nodes. `what` names the argument.
unsigned resolve_numa_node(int numa_node, const char* what);

// The shared allocator (pinned when a CUDA device is present, plain memory otherwise), its
// default node default_numa_node(). Thread-safe; built on the first call.
HostAllocator& process_host_allocator();

// allocate() with the C API's statuses: PinnedHostExhausted and sizes beyond any machine become
// MART_ERR_OUT_OF_MEMORY (fail()). bytes 0 gives nullptr.
void* host_allocate(size_t bytes, unsigned node);

}  // namespace mart::capi
