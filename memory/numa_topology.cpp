#include "memory/numa_topology.h"

#include <hwloc.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>

#include <fstream>

#include "common/error.h"
#include "device/cuda_backend.h"

namespace mart {

struct NumaTopology::Impl {
  hwloc_topology_t topo = nullptr;
  std::string origin;  // "this system", "synthetic '...'", "xml ..."
  bool this_system = false;
  NumaKind kind = NumaKind::kNoNuma;
  std::vector<NumaNode> nodes;  // OS-index order

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (topo) hwloc_topology_destroy(topo);
  }

  hwloc_obj_t node_obj(unsigned os_index) const {
    hwloc_obj_t obj = nullptr;
    while ((obj = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, obj)) != nullptr)
      if (obj->os_index == os_index) return obj;
    return nullptr;
  }
};

namespace {

// RAII for hwloc bitmaps so early returns and throws do not leak them.
struct Bitmap {
  hwloc_bitmap_t b = hwloc_bitmap_alloc();
  Bitmap() = default;
  Bitmap(const Bitmap&) = delete;
  Bitmap& operator=(const Bitmap&) = delete;
  ~Bitmap() { hwloc_bitmap_free(b); }
};

std::vector<int> bitmap_to_pus(hwloc_const_bitmap_t set) {
  std::vector<int> out;
  if (set == nullptr || hwloc_bitmap_iszero(set)) return out;
  MART_CHECK(hwloc_bitmap_weight(set) >= 0, "infinite cpuset cannot be listed");
  int i = hwloc_bitmap_first(set);
  while (i >= 0) {
    out.push_back(i);
    i = hwloc_bitmap_next(set, i);
  }
  return out;
}

std::string errno_text() {
  return std::strerror(errno);
}

std::shared_ptr<const NumaTopology::Impl> load(
    const std::function<int(hwloc_topology_t)>& configure, std::string origin) {
  auto impl = std::make_shared<NumaTopology::Impl>();
  impl->origin = std::move(origin);
  MART_CHECK(hwloc_topology_init(&impl->topo) == 0, "hwloc_topology_init failed: ", errno_text());
  if (configure)
    MART_CHECK(configure(impl->topo) == 0, "hwloc rejected the topology source (", impl->origin,
               "): ", errno_text(),
               "; for synthetic topologies use hwloc 2.x syntax such as "
               "'pack:2 [numa] core:4 pu:1' or 'numa:2 core:4 pu:1'");
  MART_CHECK(hwloc_topology_load(impl->topo) == 0, "hwloc could not load the topology (",
             impl->origin, "): ", errno_text());
  impl->this_system = hwloc_topology_is_thissystem(impl->topo) != 0;

  // Only PUs this process may run on: a container's cpuset restricts what binding can use.
  hwloc_const_cpuset_t allowed = hwloc_topology_get_allowed_cpuset(impl->topo);
  hwloc_obj_t obj = nullptr;
  while ((obj = hwloc_get_next_obj_by_type(impl->topo, HWLOC_OBJ_NUMANODE, obj)) != nullptr) {
    NumaNode n;
    n.os_index = obj->os_index;
    n.memory_bytes = obj->attr ? obj->attr->numanode.local_memory : 0;
    Bitmap cpus;
    if (obj->cpuset) hwloc_bitmap_and(cpus.b, obj->cpuset, allowed);
    n.pus = bitmap_to_pus(cpus.b);
    n.cpulist = format_cpulist(n.pus);
    impl->nodes.push_back(std::move(n));
  }
  // hwloc always models at least one node (a machine without NUMA gets one covering all memory).
  MART_CHECK(!impl->nodes.empty(), "hwloc reported no NUMA node in ", impl->origin);
  std::sort(impl->nodes.begin(), impl->nodes.end(),
            [](const NumaNode& a, const NumaNode& b) { return a.os_index < b.os_index; });

  if (impl->nodes.size() > 1) {
    impl->kind = NumaKind::kMultiNode;
  } else {
    const hwloc_topology_support* sup = hwloc_topology_get_support(impl->topo);
    bool os_reported = !impl->this_system || (sup && sup->discovery && sup->discovery->numa);
    impl->kind = os_reported ? NumaKind::kSingleNode : NumaKind::kNoNuma;
  }
  return impl;
}

// Nodes whose CPUs intersect the set, for sets that straddle nodes without containing any.
std::vector<unsigned> intersecting_nodes(const NumaTopology::Impl& impl, hwloc_const_cpuset_t set) {
  std::vector<unsigned> out;
  hwloc_obj_t obj = nullptr;
  while ((obj = hwloc_get_next_obj_by_type(impl.topo, HWLOC_OBJ_NUMANODE, obj)) != nullptr)
    if (obj->cpuset && hwloc_bitmap_intersects(obj->cpuset, set)) out.push_back(obj->os_index);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<unsigned> local_nodes(const NumaTopology::Impl& impl, hwloc_const_cpuset_t set) {
  if (hwloc_bitmap_iszero(set)) return {};
  hwloc_location loc{};
  loc.type = HWLOC_LOCATION_TYPE_CPUSET;
  loc.location.cpuset = const_cast<hwloc_cpuset_t>(set);
  std::vector<hwloc_obj_t> objs(impl.nodes.size() + 1);
  unsigned nr = static_cast<unsigned>(objs.size());
  unsigned long flags =
      HWLOC_LOCAL_NUMANODE_FLAG_LARGER_LOCALITY | HWLOC_LOCAL_NUMANODE_FLAG_SMALLER_LOCALITY;
  std::vector<hwloc_obj_t> found;
  if (hwloc_get_local_numanode_objs(impl.topo, &loc, &nr, objs.data(), flags) == 0) {
    found.assign(objs.begin(), objs.begin() + std::min<size_t>(nr, objs.size()));
  }
  if (found.empty()) return intersecting_nodes(impl, set);
  // Most specific first: a node covering few CPUs around the set is nearer than a machine-wide
  // one (e.g. a memory-only node attached to the whole machine matches every set).
  std::stable_sort(found.begin(), found.end(), [](hwloc_obj_t a, hwloc_obj_t b) {
    int wa = a->cpuset ? hwloc_bitmap_weight(a->cpuset) : 0;
    int wb = b->cpuset ? hwloc_bitmap_weight(b->cpuset) : 0;
    if (wa != wb) return wa < wb;
    return a->os_index < b->os_index;
  });
  std::vector<unsigned> out;
  for (hwloc_obj_t o : found) out.push_back(o->os_index);
  return out;
}

std::string node_list(const std::vector<NumaNode>& nodes) {
  std::string s;
  for (const NumaNode& n : nodes) {
    if (!s.empty()) s += ',';
    s += std::to_string(n.os_index);
  }
  return s;
}

}  // namespace

const char* numa_kind_name(NumaKind kind) {
  switch (kind) {
    case NumaKind::kMultiNode:
      return "multi-node";
    case NumaKind::kSingleNode:
      return "single node";
    case NumaKind::kNoNuma:
      return "no NUMA (one node modelled)";
  }
  return "?";
}

const char* gpu_node_source_name(GpuNodeSource source) {
  switch (source) {
    case GpuNodeSource::kCudaAttribute:
      return "cudaDevAttrHostNumaId";
    case GpuNodeSource::kHwlocCpuset:
      return "hwloc_cudart_get_device_cpuset";
    case GpuNodeSource::kFallback:
      return "fallback";
  }
  return "?";
}

std::vector<int> parse_cpulist(std::string_view text) {
  std::vector<int> out;
  size_t i = 0;
  auto number = [&](void) -> int {
    size_t start = i;
    long v = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      v = v * 10 + (text[i] - '0');
      MART_CHECK(v < (1 << 20), "cpu list '", text, "': CPU number too large");
      ++i;
    }
    MART_CHECK(i > start, "cpu list '", text, "': expected a CPU number at position ", start,
               " (format: 0-3,8,10-11)");
    return static_cast<int>(v);
  };
  while (i < text.size()) {
    int lo = number();
    int hi = lo;
    if (i < text.size() && text[i] == '-') {
      ++i;
      hi = number();
      MART_CHECK(hi >= lo, "cpu list '", text, "': range ", lo, "-", hi, " is reversed");
    }
    for (int c = lo; c <= hi; ++c) out.push_back(c);
    if (i < text.size()) {
      MART_CHECK(text[i] == ',', "cpu list '", text, "': unexpected '", text[i], "'");
      ++i;
      MART_CHECK(i < text.size(), "cpu list '", text, "': trailing comma");
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string format_cpulist(const std::vector<int>& pus) {
  std::vector<int> v = pus;
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  std::string s;
  for (size_t i = 0; i < v.size();) {
    size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (!s.empty()) s += ',';
    s += std::to_string(v[i]);
    if (j > i) {
      s += '-';
      s += std::to_string(v[j]);
    }
    i = j + 1;
  }
  return s;
}

NumaTopology::NumaTopology(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
NumaTopology::~NumaTopology() = default;

NumaTopology NumaTopology::load_this_system() {
  return NumaTopology(load(nullptr, "this system"));
}

NumaTopology NumaTopology::synthetic(std::string_view description) {
  std::string desc(description);
  return NumaTopology(
      load([&](hwloc_topology_t t) { return hwloc_topology_set_synthetic(t, desc.c_str()); },
           "synthetic '" + desc + "'"));
}

NumaTopology NumaTopology::from_xml_file(const std::string& path) {
  return NumaTopology(load(
      [&](hwloc_topology_t t) { return hwloc_topology_set_xml(t, path.c_str()); }, "xml " + path));
}

NumaTopology NumaTopology::from_xml_text(std::string_view xml) {
  std::string text(xml);
  return NumaTopology(load(
      [&](hwloc_topology_t t) {
        // hwloc wants the length including the terminating NUL.
        return hwloc_topology_set_xmlbuffer(t, text.c_str(), static_cast<int>(text.size() + 1));
      },
      "xml text"));
}

bool NumaTopology::is_this_system() const {
  return impl_->this_system;
}
NumaKind NumaTopology::kind() const {
  return impl_->kind;
}
const std::vector<NumaNode>& NumaTopology::nodes() const {
  return impl_->nodes;
}

std::string NumaTopology::describe() const {
  return str(impl_->nodes.size(), " NUMA node(s) [", node_list(impl_->nodes), "], ",
             numa_kind_name(impl_->kind), ", from ", impl_->origin);
}

std::string NumaTopology::to_xml() const {
  char* buf = nullptr;
  int len = 0;
  MART_CHECK(hwloc_topology_export_xmlbuffer(impl_->topo, &buf, &len, 0) == 0,
             "hwloc could not export the topology as XML: ", errno_text());
  std::string out(buf, len > 0 ? static_cast<size_t>(len - 1) : 0);
  hwloc_free_xmlbuffer(impl_->topo, buf);
  return out;
}

bool NumaTopology::has_node(unsigned os_index) const {
  for (const NumaNode& n : impl_->nodes)
    if (n.os_index == os_index) return true;
  return false;
}

const NumaNode& NumaTopology::node(unsigned os_index) const {
  for (const NumaNode& n : impl_->nodes)
    if (n.os_index == os_index) return n;
  MART_FAIL("NUMA node ", os_index, " does not exist; nodes are [", node_list(impl_->nodes), "] (",
            describe(), ")");
}

std::vector<unsigned> NumaTopology::nodes_local_to_pus(const std::vector<int>& pus) const {
  Bitmap set;
  for (int pu : pus) {
    MART_CHECK(pu >= 0, "negative CPU number ", pu, " in a cpuset");
    hwloc_bitmap_set(set.b, static_cast<unsigned>(pu));
  }
  // Only PUs the topology knows: a set naming none has no local node.
  hwloc_bitmap_and(set.b, set.b, hwloc_topology_get_complete_cpuset(impl_->topo));
  return local_nodes(*impl_, set.b);
}

std::vector<unsigned> NumaTopology::nodes_local_to_cpulist(std::string_view cpulist) const {
  return nodes_local_to_pus(parse_cpulist(cpulist));
}

GpuLocality NumaTopology::gpu_local_nodes(int device, int fallback_node) const {
  GpuLocality out;
  std::string why;
  // Asking CUDA loads the backend (device/cuda_backend.h); callers ask only when they use CUDA.
  const CudaBackend* cuda = cuda_backend();
  std::string err;
  const int count = cuda ? cuda->device_count(&err) : 0;
  if (!cuda) {
    why = cuda_backend_error();
  } else if (!err.empty()) {
    why = str("no CUDA device (", err, ")");
  } else if (device < 0 || device >= count) {
    why = str("CUDA device ", device, " does not exist (", count, " device(s))");
  } else if (!impl_->this_system) {
    why = "topology is not this system; GPU locality is unknown in it";
  } else {
    // The driver knows the nearest node even where PCI locality is missing (e.g. Grace-Hopper).
    const int numa_id = cuda->host_numa_node(device);
    if (numa_id >= 0 && has_node(static_cast<unsigned>(numa_id))) {
      out.nodes.push_back(static_cast<unsigned>(numa_id));
      out.source = GpuNodeSource::kCudaAttribute;
      out.detail = str("CUDA device ", device, " reports host NUMA node ", numa_id);
      return out;
    }
    // Else the PCI device's local CPUs, as the kernel lists them in sysfs.
    const std::string bus = cuda->pci_bus_id(device);
    const std::string path = "/sys/bus/pci/devices/" + bus + "/local_cpulist";
    std::ifstream f(path);
    std::string cpus;
    if (!bus.empty() && f && std::getline(f, cpus) && !cpus.empty()) {
      std::vector<unsigned> nodes = nodes_local_to_cpulist(cpus);
      if (!nodes.empty()) {
        out.nodes = std::move(nodes);
        out.source = GpuNodeSource::kHwlocCpuset;
        out.detail = str("CUDA device ", device, " is local to CPUs ", cpus);
        return out;
      }
      why = str("CUDA device ", device, " has no local NUMA node in the topology");
    } else {
      why = str("cannot read the local CPUs of CUDA device ", device, " (",
                bus.empty() ? std::string("PCI bus id unknown") : path, ")");
    }
  }
  out.source = GpuNodeSource::kFallback;
  if (fallback_node >= 0) {
    MART_CHECK(has_node(static_cast<unsigned>(fallback_node)), "fallback NUMA node ", fallback_node,
               " does not exist; nodes are [", node_list(impl_->nodes), "]");
    out.nodes.push_back(static_cast<unsigned>(fallback_node));
    out.detail = str(why, "; using the requested node ", fallback_node);
  } else {
    out.nodes.push_back(first_node());
    out.detail = str(why, "; using the first node ", first_node());
  }
  return out;
}

BindResult NumaTopology::bind_current_thread(unsigned os_index) const {
  const NumaNode& n = node(os_index);
  BindResult r = bind_current_thread_to_pus(n.pus);
  r.detail = str("node ", os_index, ": ", r.detail);
  return r;
}

BindResult NumaTopology::bind_current_thread_to_pus(const std::vector<int>& pus) const {
  BindResult r;
  if (pus.empty()) {
    r.detail = "no CPUs to bind to (memory-only node?); thread left unbound";
    return r;
  }
  std::string list = format_cpulist(pus);
  if (!impl_->this_system) {
    r.detail = str("topology is ", impl_->origin, ", not this system; would bind to CPUs ", list);
    return r;
  }
  Bitmap set;
  for (int pu : pus) hwloc_bitmap_set(set.b, static_cast<unsigned>(pu));
  if (hwloc_set_cpubind(impl_->topo, set.b, HWLOC_CPUBIND_THREAD) != 0) {
    r.detail = str("binding to CPUs ", list, " refused: ", errno_text());
    return r;
  }
  r.applied = true;
  r.detail = str("thread bound to CPUs ", list);
  return r;
}

BindResult NumaTopology::bind_memory(void* addr, size_t len, unsigned os_index) const {
  BindResult r;
  hwloc_obj_t obj = impl_->node_obj(os_index);
  MART_CHECK(obj != nullptr, "cannot bind memory to NUMA node ", os_index,
             ": it does not exist; nodes are [", node_list(impl_->nodes), "]");
  if (!impl_->this_system) {
    r.detail = str("topology is ", impl_->origin, ", not this system; memory not bound");
    return r;
  }
  // Since hwloc 2.6 BIND alone is only a preference on Linux; STRICT makes it a hard binding.
  int flags = HWLOC_MEMBIND_BYNODESET;
  if (hwloc_set_area_membind(impl_->topo, addr, len, obj->nodeset, HWLOC_MEMBIND_BIND,
                             flags | HWLOC_MEMBIND_STRICT) == 0) {
    r.applied = r.strict = true;
    r.detail = str("bound to node ", os_index, " (strict)");
    return r;
  }
  std::string strict_err = errno_text();
  if (hwloc_set_area_membind(impl_->topo, addr, len, obj->nodeset, HWLOC_MEMBIND_BIND, flags) ==
      0) {
    r.applied = true;
    r.detail =
        str("node ", os_index, " is only preferred: strict binding refused (", strict_err, ")");
    return r;
  }
  r.detail = str("memory not bound to node ", os_index, ": the kernel refused (", strict_err, "; ",
                 errno_text(), ")");
  return r;
}

}  // namespace mart
