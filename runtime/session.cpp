#include "runtime/session.h"

#include <algorithm>

#include "common/error.h"
#include "common/error_kinds.h"
#include "common/units.h"
#include "config/block_modes.h"
#include "config/config_validate.h"
#include "device/device.h"
#include "memory/chunk_manager.h"
#include "memory/device_arena.h"
#include "memory/numa_topology.h"
#include "runtime/backend.h"
#include "runtime/model/init.h"

namespace mart {

Session::Session(JobConfig cfg, SessionOptions opt) : cfg_(std::move(cfg)), opt_(std::move(opt)) {
  validate(cfg_);
  MART_CHECK((opt_.device == nullptr) == (opt_.ops == nullptr),
             "Session: pass both a device and its ops (SessionOptions::device and ::ops), or "
             "neither to let the Session make them from the config's backend");
  if (opt_.device) {
    dev_ = opt_.device;
    ops_ = opt_.ops;
  } else {
    own_dev_ = make_device(cfg_.backend);
    own_ops_ = make_ops(*own_dev_);
    dev_ = own_dev_.get();
    ops_ = own_ops_.get();
  }
  plan_auto_memory();
  spec_ = build_model_spec(cfg_.model);
  modes_ = parse_act_modes(resolve_block_modes(cfg_));
  MART_CHECK(cfg_.memory.mode == "resident" || cfg_.memory.mode == "manual", "memory.mode '",
             cfg_.memory.mode,
             "' is not available yet in this build; use "
             "resident or manual");
  if (opt_.activations) {
    acts_ = *opt_.activations;
  } else {
    acts_.eb = cfg_.activations.eb;
    acts_.adaptive_eb = cfg_.activations.adaptive_eb;
    acts_.budget.payload_fraction = cfg_.activations.payload_fraction;
  }
  const uint64_t state_bytes = model_state_bytes();
  if (opt_.executor) {
    budget_ = device_budget(spec_, *ops_, cfg_.train.micro_batch, cfg_.train.seq_len, modes_,
                            state_bytes, acts_.budget);
  } else {
    budget_.model_states = state_bytes;
  }
  if (opt_.generation) {
    GenerationShape& g = *opt_.generation;
    if (g.max_len == 0) g.max_len = cfg_.model.max_seq_len;
    MART_CHECK(g.max_len > 0 && g.max_len <= cfg_.model.max_seq_len, "generation length ",
               g.max_len, " must be in [1, model.max_seq_len = ", cfg_.model.max_seq_len, "]");
    g.chunk = std::min(g.chunk, g.max_len);
    add_generation_budget(budget_, spec_, *ops_, g.batch, g.max_len, g.chunk);
  }
  const uint64_t arena_bytes = budget_.total() + opt_.arena_headroom;
  check_capacity(arena_bytes);
  arena_ = std::make_unique<DeviceArena>(dev_, arena_bytes);
  const bool swaps = opt_.executor && std::any_of(modes_.begin(), modes_.end(),
                                                  [](ActMode m) { return act_mode_copies(m); });
  make_host_memory(swaps);
  make_states();
  if (opt_.executor) make_executor();
}

Session::~Session() = default;

// ---- memory.mode: auto (runtime/auto_planner.h) -------------------------------------------------
// Profiles the job on this device, plans within memory.device_capacity and rewrites cfg_ to the
// plan (memory.mode manual with every knob set) before anything reads those knobs.
void Session::plan_auto_memory() {
  if (cfg_.memory.mode != "auto") return;
  MART_CHECK(opt_.auto_planner,
             "memory.mode auto needs a planner, which this program did not pass "
             "(SessionOptions::auto_planner, or TrainOptions::auto_planner for the trainer: "
             "mart::auto_plan_for_training from mart_profiler), or use memory.mode manual");
  planner_ = opt_.auto_planner(cfg_, *dev_, *ops_);
  validate(cfg_);
}

// Device bytes of the model states; for chunked states also fixes the chunk options and the
// pinned host bytes of the offloaded chunks.
uint64_t Session::model_state_bytes() {
  if (!chunked()) return resident_state_bytes(spec_, ops_->act_dtype());
  const auto sizes = chunk_tensor_sizes(spec_);
  const auto glue = chunk_tensor_glue(spec_);
  const size_t asz = dtype_size(ops_->act_dtype());
  chunk_opt_.n_persist = cfg_.memory.n_persist;
  chunk_opt_.n_buffer = cfg_.memory.n_buffer;
  chunk_opt_.chunk_elems =
      cfg_.memory.chunk_size ? cfg_.memory.chunk_size / asz : choose_chunk_elems(sizes, asz, glue);
  chunk_opt_.trace_copies = opt_.trace_copies;
  chunk_opt_.check_buffers = opt_.check_chunk_buffers;
  const ChunkLayout layout = layout_chunks(sizes, chunk_opt_.chunk_elems, glue);
  host_bytes_ = ChunkManager::host_bytes(layout, chunk_opt_.n_persist, ops_->act_dtype());
  return ChunkManager::device_bytes(layout, chunk_opt_.n_persist, chunk_opt_.n_buffer,
                                    ops_->act_dtype(), sizes.size());
}

// memory.device_capacity, else what the device has free (the CPU backend: unlimited).
void Session::check_capacity(uint64_t need) {
  uint64_t capacity = cfg_.memory.device_capacity;
  if (capacity == 0) capacity = dev_->backend() == Backend::CPU ? need : dev_->free_memory();
  capacity = capacity / DeviceArena::kAlign * DeviceArena::kAlign;
  if (need > capacity)
    MART_FAIL_CAPACITY("the model does not fit in device memory: it needs ", format_bytes(need),
                       " (", budget_.describe(), ") but the capacity is ", format_bytes(capacity),
                       ". Reduce train.micro_batch or train.seq_len, checkpoint "
                       "activations (activations.n_checkpoint), or offload model states "
                       "(memory.mode: manual or auto)");
}

// Pinned host memory: offloaded chunks and swapped activations. It and the CPU Adam threads go on
// the device's NUMA node (docs/DESIGN.md §4: far-socket buffers or threads cost up to half the copy
// bandwidth): the GPU's nearest node on CUDA, the first node on the CPU backend. CPU Adam results
// do not depend on its thread count or binding (elementwise).
void Session::make_host_memory(bool swaps) {
  if (!chunked() && !swaps) return;
  const NumaTopology topo = NumaTopology::load_this_system();
  const unsigned node =
      dev_->backend() == Backend::CUDA ? topo.gpu_local_nodes(0).node() : topo.first_node();
  HostAllocatorOptions ho = opt_.host;
  if (ho.default_node < 0) ho.default_node = static_cast<int>(node);
  host_ = std::make_unique<HostAllocator>(topo, ho);
  if (!chunked()) return;
  CpuAdamOptions ao;
  if (opt_.cpu_adam) {
    ao = *opt_.cpu_adam;
  } else {
    ao.pus = topo.pus_of_node(node);               // empty for a CPU-less node: workers unbound
    ao.threads = static_cast<int>(ao.pus.size());  // one worker per local PU
  }
  cpu_adam_ = std::make_unique<CpuAdam>(ao);
}

void Session::make_states() {
  if (chunked())
    states_ = make_chunked_states(spec_, *dev_, *ops_, *arena_, *host_, *cpu_adam_, chunk_opt_);
  else
    states_ = make_resident_states(spec_, *dev_, *ops_, *arena_);
  if (opt_.wrap_states) states_ = opt_.wrap_states(std::move(states_));
}

void Session::make_executor() {
  ExecutorOptions eo;
  eo.micro_batch = cfg_.train.micro_batch;
  eo.seq_len = cfg_.train.seq_len;
  eo.block_modes = modes_;
  eo.host = host_.get();
  eo.activations = acts_;
  exec_ = std::make_unique<Executor>(spec_, *dev_, *ops_, *arena_, *states_, eo);
  host_bytes_ += exec_->activations().stats().host_bytes;
}

Executor& Session::executor() {
  MART_CHECK(exec_ != nullptr,
             "Session: this session was built without an executor (SessionOptions::executor = "
             "false); build it with one to train or evaluate");
  return *exec_;
}

StepResult Session::train_step(const std::vector<MicroBatch>& mbs, const StepHyper& h,
                               StepTimeline* timeline) {
  return executor().train_step(mbs, h, timeline);
}

double Session::eval_loss(const MicroBatch& mb) {
  return executor().eval_loss(mb);
}

void Session::eval_token_losses(const MicroBatch& mb, std::vector<double>* losses) {
  executor().eval_token_losses(mb, losses);
}

void Session::init_weights(uint64_t seed) {
  for (size_t i = 0; i < spec_.params.size(); ++i) {
    auto v = init_param(spec_, static_cast<int>(i), seed);
    states_->write_param(static_cast<int>(i), v.data());
  }
}

nlohmann::json Session::plan_json() {
  nlohmann::json modes = nlohmann::json::array();
  for (ActMode m : modes_) modes.push_back(act_mode_name(m));
  return {{"memory_mode", cfg_.memory.mode},
          {"model_states", states_->describe()},
          {"block_modes", modes},
          {"micro_batch", cfg_.train.micro_batch},
          {"grad_accum", cfg_.train.grad_accum},
          {"device_budget_bytes", device_budget_bytes()},
          {"pinned_host_bytes", pinned_host_bytes()},
          {"device_budget", device_budget_describe()},
          {"device_regions",  // the arena's planned regions (runtime/memory_budget.h), bytes
           {{"model_states", budget_.model_states},
            {"block_inputs", budget_.block_inputs},
            {"activations", budget_.activations},
            {"head", budget_.head},
            {"scratch", budget_.scratch},
            {"io", budget_.io},
            {"kv_cache", budget_.kv_cache},
            {"decode", budget_.decode}}}};
}

}  // namespace mart
