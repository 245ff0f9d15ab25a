// ModelStates: where parameters, gradients and optimizer states live, and how they are updated.
// The executor asks for a tensor's device pointers only between acquire(group) and
// release(group); implementations decide what that costs:
//   ResidentStates (here): everything in the device arena; acquire/release do nothing; AdamW on
//     the device through Ops.
//   ChunkedStates (memory/chunk_manager): n_persist chunks resident, the rest uploaded into
//     n_buffer device buffers on a copy stream, grads offloaded, CPU AdamW on the host.
// Every implementation must give bitwise-identical results (same kernels, same reduction order):
// per-tensor sum-of-squares in tensor order, then clip scale, then per-tensor AdamW.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "runtime/model/model_spec.h"

namespace mart {

class Device;
class DeviceArena;

enum class Pass { Forward, Backward };

struct StepHyper {
  float lr = 0;
  float beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f;
  float weight_decay = 0;  // applied to ParamInfo::decay tensors only
  float grad_clip = 0;     // 0: off
  int step = 1;            // 1-based optimizer step
};

class ModelStates {
 public:
  virtual ~ModelStates() = default;
  virtual void* param(int id) = 0;  // act dtype, device
  virtual void* grad(int id) = 0;   // act dtype, device
  virtual void acquire(int group, Pass pass) = 0;
  virtual void release(int group, Pass pass) = 0;
  virtual void zero_grads() = 0;
  // Called before each micro-batch's forward (index of count). h is the step's hyperparameters,
  // known early so offloaded updates can start during backward when clipping is off; nullptr
  // means no optimizer step follows (gradient-only passes), so nothing may be updated.
  virtual void begin_microbatch(int index, int count, const StepHyper* h) {}
  // After every micro-batch's backward: global-norm clipping + AdamW. Returns the pre-clip norm.
  virtual float step(const StepHyper& h) = 0;
  // Host fp32 views of the master state, for init and checkpoints (outside a step).
  virtual void read_param(int id, float* host) = 0;
  virtual void write_param(int id, const float* host) = 0;
  virtual void read_adam(int id, float* m, float* v) = 0;
  // Host fp32 copy of a gradient as accumulated so far (tests and diagnostics).
  virtual void read_grad(int id, float* host) = 0;
  virtual void write_adam(int id, const float* m, const float* v) = 0;
  virtual std::string describe() const = 0;
};

// Every state in the device arena: params + grads (act dtype), m, v (+ fp32 master when act dtype
// is not fp32). Regions are allocated in the constructor, in a fixed order.
class HostAllocator;
class CpuAdam;
struct ChunkUse;
class ChunkManager;
struct ChunkLayout;

struct ChunkedStatesOptions {
  int n_persist = -1;
  int n_buffer = 2;
  uint64_t chunk_elems = 0;  // 0: choose_chunk_elems
  bool trace_copies = false;
  // Check n_buffer against the layout (min_chunk_buffers) with a config-level message; off only
  // for tests that want the chunk manager's own error.
  bool check_buffers = true;
};

// Chunked model states (memory/chunk_manager.h) with the executor's use sequence.
std::unique_ptr<ModelStates> make_chunked_states(const ModelSpec& spec, Device& dev, Ops& ops,
                                                 DeviceArena& arena, HostAllocator& host,
                                                 CpuAdam& adam, const ChunkedStatesOptions& o);
// The same adapter over a ChunkManager the caller built (tests: no n_buffer check in front of it,
// their own manager options). The manager must have been built with executor_use_sequence(spec).
std::unique_ptr<ModelStates> wrap_chunk_manager(const ModelSpec& spec,
                                                std::unique_ptr<ChunkManager> manager);
// The ChunkManager behind chunked model states (stats, copy log); nullptr for any other states.
ChunkManager* chunk_manager_of(ModelStates& states);
// Fewest device chunk buffers the executor needs with this layout: the most offloaded chunks it
// holds at once (one group, or the head together with the tied embedding's group).
int min_chunk_buffers(const ModelSpec& spec, const ChunkLayout& layout, int n_persist);
// Tensor sizes in execution order, as the chunk layout takes them.
std::vector<uint64_t> chunk_tensor_sizes(const ModelSpec& spec);
std::vector<bool> chunk_tensor_glue(const ModelSpec& spec);

std::unique_ptr<ModelStates> make_resident_states(const ModelSpec& spec, Device& dev, Ops& ops,
                                                  DeviceArena& arena);

// Shared by every implementation so results are identical: the global grad norm from per-tensor
// sums of squares (fp32 each, summed in double in tensor order) and the clip scale.
float global_norm_from_sumsq(const float* per_tensor, size_t n);
float clip_scale(float norm, float grad_clip);

}  // namespace mart
