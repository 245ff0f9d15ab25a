// Hardware half of the measured profile (measured_profile.h).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/progress_line.h"
#include "kernels/codec.h"
#include "kernels/cpu/cpu_adam.h"
#include "memory/device_arena.h"
#include "memory/host_allocator.h"
#include "planner/hardware.h"
#include "profiler/measured_profile.h"

namespace mart {
namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Seconds of `fn` on stream s, by device events (the CPU backend's events time its queues too).
template <class F>
double timed(Device& dev, StreamId s, F&& fn) {
  Event a = dev.record(s);
  fn();
  Event b = dev.record(s);
  dev.synchronize(b);
  return dev.elapsed_s(a, b);
}

// A preset whose name the device's name contains, for the datasheet peak (MFU's denominator).
const char* preset_for(const std::string& device) {
  std::string d = device;
  for (auto& c : d) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (d.find("h200") != std::string::npos) return "h200";
  if (d.find("h100") != std::string::npos) return "h100-sxm";
  if (d.find("a100") != std::string::npos) return "a100-80gb";
  if (d.find("4090") != std::string::npos) return "rtx4090";
  if (d.find("3090") != std::string::npos) return "rtx3090";
  return nullptr;
}

}  // namespace

HardwareProfile measure_hardware(Device& dev, Ops& ops, const JobConfig& cfg,
                                 const MeasureOptions& opt) {
  const bool cuda = dev.backend() == Backend::CUDA;
  const DType act = ops.act_dtype();
  const size_t asz = dtype_size(act);
  int measured = 0;  // kHardwareMeasurements ticks, for the progress line
  const auto tick = [&, total = opt.progress ? measurement_count(cfg, opt) : 0](const char* what) {
    if (opt.progress) opt.progress(++measured, total, what);
  };
  HardwareProfile h;
  h.name = dev.name();
  h.estimated = false;
  h.backend = cuda ? "cuda" : "cpu";
  h.device_memory = dev.total_memory();
  h.host_memory = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  h.pinned_limit = 0;
  h.compute_on_host = !cuda;
  const int reps = std::max(1, opt.reps);

  // Sizes: large enough to reach the asymptotic rate, small enough to take milliseconds.
  const uint64_t copy_bytes = cuda ? 256ull << 20 : 32ull << 20;
  const uint64_t adam_n = cuda ? 64ull << 20 : 2ull << 20;
  const int C = cfg.model.d_model, F = cfg.model.d_ff;
  const int N = std::max(1, cfg.train.micro_batch) * cfg.train.seq_len;
  const uint64_t mm_bytes =
      (static_cast<uint64_t>(N) * (C + F) + static_cast<uint64_t>(F) * C) * asz;
  const uint64_t adam_dev = adam_n * (2 * asz + 12);
  const uint64_t region = std::max({2 * copy_bytes, adam_dev, mm_bytes}) + (1 << 20);
  DeviceArena arena(&dev, arena_round(region) + 4 * DeviceArena::kAlign);
  Region r = arena.alloc(region, "profile");
  char* d = static_cast<char*>(r.ptr);
  // Host memory and CPU Adam threads exactly as the trainer sets them up (runtime/trainer.cpp):
  // on the device's NUMA node, one Adam worker per PU of that node.
  const NumaTopology topo = NumaTopology::load_this_system();
  const unsigned node = cuda ? topo.gpu_local_nodes(0).node() : topo.first_node();
  HostAllocatorOptions ho;
  ho.default_node = static_cast<int>(node);
  HostAllocator host(topo, ho);
  void* hb_up = host.allocate(copy_bytes);
  void* hb_down = host.allocate(copy_bytes);
  std::memset(hb_up, 1, copy_bytes);
  std::memset(hb_down, 0, copy_bytes);

  // PCIe (CPU backend: the copy streams' memcpy), each direction alone, then both at once.
  std::vector<double> up, down, up2, down2;
  for (int i = 0; i <= reps; ++i) {
    const double tu = timed(dev, kH2DStream, [&] {
      dev.memcpy_async(d, hb_up, copy_bytes, CopyKind::HostToDevice, kH2DStream);
    });
    const double td = timed(dev, kD2HStream, [&] {
      dev.memcpy_async(hb_down, d + copy_bytes, copy_bytes, CopyKind::DeviceToHost, kD2HStream);
    });
    Event a0 = dev.record(kH2DStream), b0 = dev.record(kD2HStream);
    dev.memcpy_async(d, hb_up, copy_bytes, CopyKind::HostToDevice, kH2DStream);
    dev.memcpy_async(hb_down, d + copy_bytes, copy_bytes, CopyKind::DeviceToHost, kD2HStream);
    Event a1 = dev.record(kH2DStream), b1 = dev.record(kD2HStream);
    dev.synchronize(a1);
    dev.synchronize(b1);
    if (i == 0) continue;  // warm-up
    up.push_back(copy_bytes / tu);
    down.push_back(copy_bytes / td);
    up2.push_back(copy_bytes / dev.elapsed_s(a0, a1));
    down2.push_back(copy_bytes / dev.elapsed_s(b0, b1));
  }
  h.h2d_bps = median(up);
  h.d2h_bps = median(down);
  h.h2d_duplex_bps = std::min(h.h2d_bps, median(up2));
  h.d2h_duplex_bps = std::min(h.d2h_bps, median(down2));

  tick("H2D/D2H copies");
  // Device memory bandwidth: a device-to-device copy reads and writes every byte.
  std::vector<double> bw;
  for (int i = 0; i <= reps; ++i) {
    const double t = timed(dev, kComputeStream, [&] {
      dev.memcpy_async(d + copy_bytes, d, copy_bytes, CopyKind::DeviceToDevice, kComputeStream);
    });
    if (i) bw.push_back(2.0 * copy_bytes / t);
  }
  h.mem_bw_bps = median(bw);
  tick("memory bandwidth");

  // Matmul at the model's shapes: [N, C] x [F, C]^T.
  dev.memset_async(d, 0, mm_bytes, kComputeStream);
  void* inp = d;
  void* w = d + static_cast<uint64_t>(N) * C * asz;
  void* out = d + (static_cast<uint64_t>(N) * C + static_cast<uint64_t>(F) * C) * asz;
  std::vector<double> mm;
  for (int i = 0; i <= reps; ++i) {
    const double t = timed(dev, kComputeStream,
                           [&] { ops.matmul_forward(out, nullptr, inp, w, nullptr, N, C, F); });
    if (i) mm.push_back(t);
  }
  tick("matmul");
  const double mm_t = median(mm);
  h.matmul_flops = 2.0 * N * C * F / mm_t;
  const char* p = cuda ? preset_for(h.name) : nullptr;
  h.peak_flops = p ? builtin_hardware(p).peak_flops : h.matmul_flops;
  // Fused attention is not timed here: the preset's attention/matmul ratio applied to the measured
  // matmul rate on CUDA (the matmul rate itself without a preset), the GEMM rate on the CPU
  // backend, whose attention is GEMM-based.
  h.attention_flops =
      p ? h.matmul_flops * builtin_hardware(p).attention_flops / builtin_hardware(p).matmul_flops
        : h.matmul_flops;

  // Device AdamW (persistent chunks): param act dtype, fp32 master when act is not fp32.
  {
    dev.memset_async(d, 0, adam_dev, kComputeStream);
    char* q = d;
    void* param = q;
    q += adam_n * asz;
    void* grad = q;
    q += adam_n * asz;
    float* m = reinterpret_cast<float*>(q);
    float* v = m + adam_n;
    float* master = asz == 4 ? nullptr : v + adam_n;
    AdamWHyper hy;
    std::vector<double> t;
    for (int i = 0; i <= reps; ++i) {
      const double s = timed(dev, kComputeStream,
                             [&] { ops.adamw_update(param, master, grad, m, v, adam_n, hy, i); });
      if (i) t.push_back(s);
    }
    h.device_adam_elems_per_s = adam_n / median(t);
  }
  tick("device Adam");

  // CPU AdamW over one offloaded chunk's host buffers, as the chunk manager submits it.
  {
    const uint64_t n = cuda ? adam_n / 2 : adam_n;
    std::vector<void*> blocks;
    auto alloc = [&](uint64_t bytes) {
      void* b = host.allocate(bytes);
      std::memset(b, 0, bytes);
      blocks.push_back(b);
      return b;
    };
    cpu::AdamWSpan s;
    s.grad = alloc(n * asz);
    s.grad_dtype = act;
    s.master = static_cast<float*>(alloc(n * 4));
    s.m = static_cast<float*>(alloc(n * 4));
    s.v = static_cast<float*>(alloc(n * 4));
    s.out = asz == 4 ? nullptr : alloc(n * asz);
    s.out_dtype = act;
    s.n = n;
    CpuAdamOptions ao;
    ao.pus = topo.pus_of_node(node);
    ao.threads = static_cast<int>(ao.pus.size());
    CpuAdam adam(ao);
    AdamWHyper hy;
    std::vector<double> t;
    for (int i = 0; i <= reps; ++i) {
      auto t0 = Clock::now();
      adam.step(s, hy);
      if (i) t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    const double adam_t = median(t);
    h.cpu_adam_elems_per_s = n / adam_t;
    // CPU backend: compute and CPU Adam share the cores. Run both at once and see how fast each
    // progresses relative to alone (the cost model's host_overlap_rate).
    if (!cuda) {
      const int k = 3;
      auto t0 = Clock::now();
      std::vector<CpuAdam::Ticket> tickets;
      for (int i = 0; i < k; ++i) tickets.push_back(adam.submit(s, hy));
      int mms = 0;
      while (!adam.done(tickets.back())) {
        ops.matmul_forward(out, nullptr, inp, w, nullptr, N, C, F);
        ++mms;
      }
      const double window = std::chrono::duration<double>(Clock::now() - t0).count();
      const double adam_rate = k * adam_t / window, mm_rate = mms * mm_t / window;
      h.host_overlap_rate = std::clamp(0.5 * (adam_rate + std::min(1.0, mm_rate)), 0.05, 1.0);
    }
    for (void* b : blocks) host.deallocate(b);
  }

  tick("CPU Adam");
  // The activation codec (compress): CPU encoder on the CPU backend. The CUDA codec is not timed
  // here; a CUDA profile takes its preset's figure, or a tenth of the memory bandwidth.
  if (!cuda) {
    const size_t n = 1 << 20;
    std::vector<float> x(n);
    for (size_t i = 0; i < n; ++i) x[i] = 0.01f * static_cast<float>((i * 2654435761u) % 1000);
    std::vector<uint8_t> enc(codec::max_encoded_bytes(n));
    std::vector<double> t;
    for (int i = 0; i <= reps; ++i) {
      auto t0 = Clock::now();
      codec::encode(x.data(), n, 1e-3f, enc.data());
      if (i) t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    h.codec_bps = n * 4.0 / median(t);
  } else {
    h.codec_bps = p ? builtin_hardware(p).codec_bps : 0.1 * h.mem_bw_bps;
  }
  tick("codec");
  host.deallocate(hb_up);
  host.deallocate(hb_down);
  arena.free(r);
  if (opt.verbose)
    std::fprintf(stderr,
                 "%smart profile: H2D %.1f GB/s, D2H %.1f GB/s (both: %.1f / %.1f), matmul "
                 "%.2f TFLOP/s, CPU Adam %.2f G/s, device Adam %.2f G/s\n",
                 progress_clear(), h.h2d_bps / 1e9, h.d2h_bps / 1e9, h.h2d_duplex_bps / 1e9,
                 h.d2h_duplex_bps / 1e9, h.matmul_flops / 1e12, h.cpu_adam_elems_per_s / 1e9,
                 h.device_adam_elems_per_s / 1e9);
  return hardware_from_json(to_json(h));  // validates
}

}  // namespace mart
