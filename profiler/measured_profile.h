// The measured profile (`mart profile`, and memory.mode: auto in `mart train`): one short run on
// the real device and backend.
//   hardware  H2D and D2H bandwidth from pinned host memory (HostAllocator), each alone and both
//             at once; CPU AdamW (CpuAdam, as the chunk manager runs it) and device AdamW
//             (Ops::adamw_update) throughput; matmul FLOP/s at the model's shapes; device memory
//             bandwidth; the codec; on the CPU backend, how much compute and CPU Adam slow each
//             other down when they run at once (they share the cores).
//   model     one transformer block of the model's real shapes (a 1-layer model of the same
//             config), timed with device events around block_forward / block_backward / the
//             recompute forward, plus the embedding and the head: every block has the same
//             shapes, so L blocks cost L times one, and a model that does not fit is profiled all
//             the same. Memory comes from the executor's layout (exact), and each activation
//             mode's bytes from the activation manager's own accounting.
// Seconds, not minutes: a warm-up and `reps` timed repetitions (median) per quantity.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "config/job_config.h"
#include "device/device.h"
#include "kernels/ops.h"
#include "planner/profile.h"

namespace mart {

// Progress of measured_profile, for a [profile] progress line: (measurements done, measurements
// in all: measurement_count, what was just measured: "H2D/D2H copies", "micro-batch 4 block").
// measure_hardware counts 1..kHardwareMeasurements, measure_model continues from there.
using MeasureProgress = std::function<void(int done, int total, const std::string& what)>;
constexpr int kHardwareMeasurements = 6;

struct MeasureOptions {
  int reps = 3;
  std::vector<int> micro_batches;  // empty: micro_batch_candidates(cfg)
  bool verbose = false;            // figures on stderr
  MeasureProgress progress;        // optional
};

// The measurements measured_profile makes: kHardwareMeasurements + one per micro-batch.
int measurement_count(const JobConfig& cfg, const MeasureOptions& opt);

HardwareProfile measure_hardware(Device& dev, Ops& ops, const JobConfig& cfg,
                                 const MeasureOptions& opt);
// Model timings and memory for every micro-batch, on `dev`/`ops`, with `hw` as the hardware.
Profile measure_model(const JobConfig& cfg, Device& dev, Ops& ops, const HardwareProfile& hw,
                      const MeasureOptions& opt);
// Both.
Profile measured_profile(const JobConfig& cfg, Device& dev, Ops& ops, const MeasureOptions& opt);

}  // namespace mart
