// CpuAdam: the host-side optimizer of offloaded chunks. Each update is one fused pass
// (kernels/cpu/adamw_simd.h) over the chunk's grad, fp32 master, m and v that also writes the
// updated param, converted to the upload dtype, straight into the chunk's upload buffer.
//
// The work runs on a persistent ThreadPool (kernels/cpu/thread_pool.h) whose workers can be bound
// to the GPU's local PUs. A chunk is cut into tiles of `tile_bytes` of fp32 state; each worker owns
// a contiguous run of tiles (static_tiles), so the split depends only on the worker count. Because
// the update is elementwise, the result bits do not depend on the split at all: any thread count
// gives exactly what the scalar reference gives.
//
// step() is synchronous; submit()/wait() let the runtime pipeline chunk updates (e.g. submit the
// update of chunk k, then issue the upload of chunk k-1 while it runs). Updates complete in
// submission order; the buffers of a submitted chunk must stay untouched until its ticket is
// waited.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kernels/cpu/adamw_simd.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/ops.h"

namespace mart {

// One chunk's buffers: grad (F32 or BF16), fp32 master/m/v, optional upload-buffer param copy
// (F32 or BF16, may be null), n elements.
using AdamChunk = cpu::AdamWSpan;

struct CpuAdamOptions {
  int threads = 0;                        // 0: one per PU of cpuset, else hardware_concurrency
  std::vector<int> pus;                   // bind worker i to PU pus[i % size] (OS index)
  hwloc_const_cpuset_t cpuset = nullptr;  // or: bind worker i to the i-th PU of this set
  // fp32 bytes of one array per tile; a multiple of 64 so tile edges are cache-line edges.
  size_t tile_bytes = 64 * 1024;
  // Which SIMD path; default: MART_CPU_ADAM_ISA if set, else the widest this CPU supports.
  bool force_isa = false;
  cpu::AdamIsa isa = cpu::AdamIsa::Scalar;  // used when force_isa
  bool stream_out = true;                   // non-temporal stores into the upload buffer
};

struct CpuAdamStats {
  uint64_t updates = 0;   // chunks updated
  uint64_t elements = 0;  // elements updated
  uint64_t bytes = 0;     // bytes moved, counted per element by adamw_bytes_per_element
  double seconds = 0;     // summed wall time of the updates on the pool
  double gbps() const { return seconds > 0 ? bytes / seconds * 1e-9 : 0.0; }
  double elements_per_s() const { return seconds > 0 ? elements / seconds : 0.0; }
};

class CpuAdam {
 public:
  using Ticket = ThreadPool::Ticket;

  explicit CpuAdam(const CpuAdamOptions& opt = {});
  ~CpuAdam();  // waits for every submitted update, then stops the workers

  // Updates c in place (master, m, v) and writes c.out; returns when done.
  void step(const AdamChunk& c, const AdamWHyper& h) { wait(submit(c, h)); }
  // Validates c and h now (throws mart::Error), then queues the update. The bias corrections are
  // computed here, once per call. `timed`, when given, is called once the update is done with its
  // start and end in seconds on std::chrono::steady_clock (since its epoch), on a pool worker
  // under the pool's lock: it must be short and must not call into this CpuAdam (a step trace).
  using Timed = std::function<void(double start_s, double end_s)>;
  Ticket submit(const AdamChunk& c, const AdamWHyper& h, Timed timed = {});
  // Blocks until updates 1..t are done.
  void wait(Ticket t) { pool_->wait(t); }
  void wait_all() { pool_->wait_all(); }
  bool done(Ticket t) const { return pool_->done(t); }

  int threads() const { return pool_->size(); }
  cpu::AdamIsa isa() const { return isa_; }
  size_t tile_elems() const { return tile_elems_; }
  const std::string& binding_report() const { return pool_->binding_report(); }
  ThreadPool& pool() { return *pool_; }  // for other bandwidth-bound jobs (e.g. the triad bench)

  CpuAdamStats stats() const;
  void reset_stats();

 private:
  cpu::AdamIsa isa_;
  size_t tile_elems_;
  bool stream_out_;
  mutable std::mutex stats_mu_;
  CpuAdamStats stats_;
  std::unique_ptr<ThreadPool> pool_;  // last: destroyed (drained) first
};

}  // namespace mart
