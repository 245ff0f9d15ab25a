// HostAllocator's front: option checks, the pinning mode, routing each request to its tier, the
// live-block bookkeeping around it, and teardown. The pieces are listed in host_allocator_impl.h.
#include "memory/host_allocator.h"

#include <cstdio>

#include "common/units.h"
#include "device/cuda_backend.h"
#include "memory/host_allocator_impl.h"

namespace mart {

using host_detail::kHugePage;
using host_detail::LiveBlock;
using host_detail::page_size;

namespace {
constexpr uint64_t kMaxRequest = 1ull << 48;  // keeps every rounding below free of overflow
}  // namespace

HostAllocator::Impl::Impl(const NumaTopology& t, const HostAllocatorOptions& o)
    : topo(t),
      opts(o),
      live(t.nodes().size()),
      slabs(t, o, live, warnings),
      dedicated(slabs, o),
      small(slabs, o, warnings) {
  slabs.set_reclaim([this] { return dedicated.trim(); });
}

int HostAllocator::Impl::node_index(int os) const {
  for (size_t i = 0; i < slabs.num_nodes(); ++i)
    if (static_cast<int>(slabs.os(static_cast<int>(i))) == os) return static_cast<int>(i);
  MART_CHECK(os >= 0, "host allocator: invalid NUMA node ", os);
  topo.node(static_cast<unsigned>(os));  // throws, naming the nodes that exist
  return -1;
}

HostAllocator::HostAllocator(NumaTopology topology, HostAllocatorOptions options)
    : topo_(std::move(topology)), opts_(options) {
  MART_CHECK(opts_.slab_bytes % kHugePage == 0 && opts_.slab_bytes >= 4 * (1ull << 20),
             "host allocator: slab size ", opts_.slab_bytes,
             " must be a multiple of 2 MiB and at least 4 MiB");
  MART_CHECK(opts_.dedicated_threshold >= page_size(), "host allocator: dedicated threshold ",
             opts_.dedicated_threshold, " must be at least one page (", page_size(), " bytes)");
  MART_CHECK(opts_.slab_bytes >= 2 * opts_.dedicated_threshold + 4 * (1ull << 20),
             "host allocator: slab size ", format_bytes(opts_.slab_bytes),
             " must be at least twice the dedicated threshold (",
             format_bytes(opts_.dedicated_threshold), ") plus 4 MiB, so small blocks fit a slab");
  if (opts_.default_node < 0) {
    default_node_ = static_cast<int>(topo_.first_node());
  } else {
    topo_.node(static_cast<unsigned>(opts_.default_node));  // throws when it does not exist
    default_node_ = opts_.default_node;
  }
  impl_ = std::make_unique<Impl>(topo_, opts_);

#ifdef MART_HAVE_CUDA
  if (opts_.pin != PinMode::kOff) {
    // Registration goes through the CUDA backend, loaded here on first use (cuda_backend.h).
    std::string why;
    const CudaBackend* cuda = cuda_backend();
    if (!cuda)
      why = cuda_backend_error();
    else if (cuda->device_count(&why) > 0)
      register_ = true;
    else if (why.empty())
      why = "no CUDA device";
    if (!register_) {
      MART_CHECK(opts_.pin != PinMode::kRequire,
                 "host allocator: pinned memory required but cannot register with CUDA (", why,
                 ")");
      impl_->warnings.add(
          str("host memory is not pinned (", why, "): copies will not be asynchronous"));
    }
  }
#else
  MART_CHECK(opts_.pin != PinMode::kRequire,
             "host allocator: pinned memory required but this is the CPU backend build; "
             "configure with -DMART_CUDA=ON or do not require pinning");
#endif
  impl_->slabs.set_pin(register_);
}

HostAllocator::~HostAllocator() {
  uint64_t live = impl_->live.count().now();
  if (live)
    std::fprintf(stderr, "mart: HostAllocator destroyed with %llu live block(s) (%s); released\n",
                 static_cast<unsigned long long>(live),
                 format_bytes(impl_->live.in_use().now()).c_str());
  // Arenas first: destroying a jemalloc arena walks its extents and metadata, in the slabs.
  std::vector<bool> keep_shared = impl_->small.release_arenas();
  impl_->slabs.release_all(keep_shared);
}

void* HostAllocator::allocate(size_t bytes, int node) {
  if (bytes == 0) return nullptr;
  MART_CHECK(bytes <= kMaxRequest, "host allocation of ", bytes, " bytes is beyond any machine");
  int idx = impl_->node_index(node < 0 ? default_node_ : node);
  bool dedicated = bytes >= opts_.dedicated_threshold;
  void* p = dedicated ? impl_->dedicated.allocate(idx, bytes) : impl_->small.allocate(idx, bytes);
  LiveBlock b{bytes, idx, dedicated};
  impl_->live.insert(p, b);
  impl_->live.count_allocation(b);
  return p;
}

void HostAllocator::deallocate(void* p) {
  if (p == nullptr) return;
  // Out of the live map before the memory is returned (see host_live_blocks.h).
  LiveBlock b = impl_->live.take(p);
  if (b.dedicated)
    impl_->dedicated.deallocate(b.node, p);
  else
    impl_->small.deallocate(b.node, p, b.bytes);
  impl_->live.count_free(b);
}

int HostAllocator::node_of(const void* p) const {
  return impl_->slabs.os_of(p);
}

size_t HostAllocator::block_size(const void* p) const {
  return impl_->live.size_of(p);
}

uint64_t HostAllocator::trim() {
  return impl_->dedicated.trim();
}

}  // namespace mart
