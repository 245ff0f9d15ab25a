// NUMA topology of the host, through hwloc: which memory nodes exist, which CPUs are local to
// each, which node is nearest to a GPU, and binding threads and memory there.
//
// Why: host-to-device copies lose up to half their bandwidth when the pinned buffer or the thread
// driving the copy sits on the far socket (docs/DESIGN.md §4). The host allocator places
// memory on the GPU's node, and the copy / CPU-Adam thread pools bind their threads to the same
// node's CPUs (pus_of_node / bind_current_thread).
//
// Tests and capacity planning can load a synthetic topology ("pack:2 [numa] core:4 pu:1",
// "numa:2 core:4 pu:1") or an XML export of another machine. Such a topology is not this system:
// node selection works as on the real machine, but binding calls report applied = false and
// change nothing (hwloc itself would silently accept and ignore them).
//
// Node ids in this API are OS indices (what numactl and /sys/devices/system/node show).
// A NumaTopology is a cheap handle: copies share one loaded hwloc topology, which is read-only
// after loading, so every method is safe to call from any thread.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mart {

struct NumaNode {
  unsigned os_index = 0;      // kernel node number
  uint64_t memory_bytes = 0;  // local memory reported by the OS (0 when unknown)
  std::vector<int> pus;       // OS indices of the (allowed) processing units local to the node
  std::string cpulist;        // the same as a list string, e.g. "0-3,8-11"
};

// How many memory nodes the host really has; everything below kMultiNode takes the one-node path.
enum class NumaKind {
  kMultiNode,   // two or more nodes: placement matters
  kSingleNode,  // the OS reports exactly one node
  kNoNuma,      // the OS reports no NUMA information; hwloc models all memory as node 0
};
const char* numa_kind_name(NumaKind kind);

// Where a GPU's nearest node came from, in order of preference.
enum class GpuNodeSource {
  kCudaAttribute,  // cudaDevAttrHostNumaId (CUDA >= 12.2)
  kHwlocCpuset,    // the PCI device's local CPUs (sysfs local_cpulist) -> hwloc NUMA nodes
  kFallback,       // no CUDA, no device, or no locality information: caller's node or the first
};
const char* gpu_node_source_name(GpuNodeSource source);

struct GpuLocality {
  std::vector<unsigned> nodes;  // OS indices, most local first; never empty
  GpuNodeSource source = GpuNodeSource::kFallback;
  std::string detail;  // why this source was used (e.g. "no CUDA device: cudaErrorNoDevice")
  unsigned node() const { return nodes.front(); }
};

// Outcome of a binding call. applied = false is not an error by itself: the caller decides
// whether running unbound is acceptable (the allocator records it as a warning).
struct BindResult {
  bool applied = false;
  bool strict = false;  // memory binding only: a hard binding (HWLOC_MEMBIND_STRICT) is in place
  std::string detail;   // what was done or why not
};

class NumaTopology {
 public:
  // The machine this process runs on.
  static NumaTopology load_this_system();
  // hwloc synthetic description, e.g. "pack:2 [numa] core:4 pu:1" or "numa:2 core:4 pu:1".
  static NumaTopology synthetic(std::string_view description);
  // An XML export (lstopo foo.xml, or to_xml()): from a file, or from the text itself.
  static NumaTopology from_xml_file(const std::string& path);
  static NumaTopology from_xml_text(std::string_view xml);

  NumaTopology(const NumaTopology&) = default;
  NumaTopology& operator=(const NumaTopology&) = default;
  ~NumaTopology();

  // Whether binding calls act on this process (false for synthetic and XML topologies).
  bool is_this_system() const;
  NumaKind kind() const;
  // One line: node count, kind, origin ("this system", "synthetic '...'", "xml ...").
  std::string describe() const;
  std::string to_xml() const;

  // Nodes in OS-index order; at least one.
  const std::vector<NumaNode>& nodes() const;
  size_t num_nodes() const { return nodes().size(); }
  bool has_node(unsigned os_index) const;
  // Throws mart::Error naming the node and the nodes that exist.
  const NumaNode& node(unsigned os_index) const;
  unsigned first_node() const { return nodes().front().os_index; }

  // Nodes local to a set of PUs (OS indices), most specific locality first: nodes whose CPUs
  // contain the set, or are contained in it (hwloc_get_local_numanode_objs with larger and
  // smaller locality); when neither, the nodes whose CPUs intersect it. Empty only when the set
  // names no PU of this topology.
  std::vector<unsigned> nodes_local_to_pus(const std::vector<int>& pus) const;
  // Same for a list string such as "0-3,8"; throws mart::Error on a malformed list.
  std::vector<unsigned> nodes_local_to_cpulist(std::string_view cpulist) const;

  // The node(s) nearest to CUDA device `device`. Without CUDA, a device, or locality info, returns
  // fallback_node when it exists (>= 0), otherwise the first node, and says why in detail.
  GpuLocality gpu_local_nodes(int device, int fallback_node = -1) const;

  // PUs to bind threads to for memory on `os_index` (for copy threads, CPU Adam workers).
  std::vector<int> pus_of_node(unsigned os_index) const { return node(os_index).pus; }
  // Binds the calling thread to the node's CPUs (HWLOC_CPUBIND_THREAD).
  BindResult bind_current_thread(unsigned os_index) const;
  // Binds the calling thread to exactly these PUs.
  BindResult bind_current_thread_to_pus(const std::vector<int>& pus) const;

  // Binds [addr, addr + len) to the node: strict first (HWLOC_MEMBIND_BIND | STRICT), then as a
  // preference when the kernel refuses strict binding, else leaves it unbound. Never throws for a
  // refusal; applied/strict/detail say what happened. addr and len must be page-aligned, and the
  // range should be untouched so that first touch lands on the node.
  BindResult bind_memory(void* addr, size_t len, unsigned os_index) const;

  struct Impl;  // hwloc state; defined in numa_topology.cpp only

 private:
  explicit NumaTopology(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

// "0-3,8" <-> {0,1,2,3,8}. Throws mart::Error on malformed text.
std::vector<int> parse_cpulist(std::string_view text);
std::string format_cpulist(const std::vector<int>& pus);

}  // namespace mart
