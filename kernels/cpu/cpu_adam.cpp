#include "kernels/cpu/cpu_adam.h"

#include <chrono>

#include "common/error.h"

namespace mart {

CpuAdam::CpuAdam(const CpuAdamOptions& opt) {
  MART_CHECK(opt.tile_bytes >= 64 && opt.tile_bytes % 64 == 0,
             "CpuAdam tile_bytes must be a positive multiple of 64 (a cache line), got ",
             opt.tile_bytes);
  if (opt.force_isa) {
    MART_CHECK(cpu::adam_isa_supported(opt.isa), "CpuAdam: forced ISA ",
               cpu::adam_isa_name(opt.isa), " is not supported by this CPU");
    isa_ = opt.isa;
  } else {
    isa_ = cpu::adam_isa_default();
  }
  tile_elems_ = opt.tile_bytes / sizeof(float);
  stream_out_ = opt.stream_out;
  ThreadPoolOptions po;
  po.threads = opt.threads;
  po.pus = opt.pus;
  po.cpuset = opt.cpuset;
  po.warn_prefix = "mart: CPU Adam";
  pool_ = std::make_unique<ThreadPool>(po);
}

CpuAdam::~CpuAdam() {
  // The pool's destructor drains the queue; errors of updates nobody waited for are dropped.
  pool_.reset();
}

CpuAdam::Ticket CpuAdam::submit(const AdamChunk& c, const AdamWHyper& h, Timed timed) {
  cpu::adamw_validate(c);
  const cpu::AdamWConsts k = cpu::adamw_consts(h);
  const cpu::AdamIsa isa = isa_;
  const size_t tile = tile_elems_;
  const bool stream = stream_out_;
  const uint64_t bytes = static_cast<uint64_t>(cpu::adamw_bytes_per_element(c)) * c.n;
  auto task = [c, k, isa, tile, stream](int w, int nw) {
    const Range r = static_tiles(c.n, tile, w, nw);
    // One call per worker over its whole contiguous run of tiles: identical bits to tile-by-tile
    // calls (elementwise), and the hardware prefetchers see one long stream per array.
    cpu::adamw_simd(c, r.begin, r.end, k, isa, stream);
  };
  auto done = [this, n = c.n, bytes, timed = std::move(timed)](double seconds) {
    {
      std::lock_guard<std::mutex> lk(stats_mu_);
      stats_.updates += 1;
      stats_.elements += n;
      stats_.bytes += bytes;
      stats_.seconds += seconds;
    }
    if (timed) {
      const double end =
          std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
              .count();
      timed(end - seconds, end);
    }
  };
  return pool_->submit(std::move(task), std::move(done));
}

CpuAdamStats CpuAdam::stats() const {
  std::lock_guard<std::mutex> lk(stats_mu_);
  return stats_;
}

void CpuAdam::reset_stats() {
  std::lock_guard<std::mutex> lk(stats_mu_);
  stats_ = {};
}

}  // namespace mart
