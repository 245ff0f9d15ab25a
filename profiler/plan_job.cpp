#include "profiler/plan_job.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "common/units.h"
#include "planner/hardware.h"
#include "profiler/analytic_profile.h"

namespace mart {
namespace {

// The job already accepts lossy activations: compress or compress_swap.
bool job_uses_compress(const JobConfig& cfg) {
  if (cfg.activations.counts.count_if([](const ActModeTraits& t) { return t.lossy; }) > 0)
    return true;
  for (auto& m : cfg.activations.modes)
    if (act_mode_compresses(parse_act_mode(m))) return true;
  return false;
}

// A measured profile describes this job when the model and sequence are the same.
bool same_model(const Profile& p, const ModelProfile& m) {
  return p.model.n_layer == m.n_layer && p.model.d_model == m.d_model &&
         p.model.seq_len == m.seq_len && p.model.vocab == m.vocab &&
         p.model.n_params == m.n_params && p.model.act_bytes == m.act_bytes;
}

std::string fixed(double x, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

// "2 swap, 1 checkpoint, 9 keep": the modes in layout order (block 0's first).
std::string modes_summary(const PlanChoice& c, int L) {
  std::ostringstream os;
  bool first = true;
  for (int rank = 0; rank <= act_traits(ActMode::Keep).layout_rank; ++rank)
    for (const ActModeTraits& t : kActModeTraits) {
      const int n = t.mode == ActMode::Keep ? L - c.blocks.placed() : c.blocks[t.mode];
      if (t.layout_rank != rank || n == 0) continue;
      os << (first ? "" : ", ") << n << " " << t.name;
      first = false;
    }
  return os.str();
}

}  // namespace

SearchOptions job_search_options(const JobConfig& cfg, const Profile& p, uint64_t capacity,
                                 uint64_t host_memory, bool allow_compress) {
  SearchOptions o;
  o.device_capacity = capacity;
  o.host_memory = host_memory;
  o.global_batch = cfg.train.micro_batch * cfg.train.grad_accum;
  // The user's micro-batch is kept unless the job lets the planner choose: a different split of
  // the global batch changes the training numerics (summation order), a memory plan does not.
  if (!cfg.train.micro_batch_auto) o.fixed_micro_batch = cfg.train.micro_batch;
  o.allow_compress = allow_compress || job_uses_compress(cfg);
  o.cost.grad_clip = cfg.train.grad_clip > 0;
  // The runtime sizes compressed regions and compress_swap copies with the job's budget.
  o.cost.compress.payload_fraction = cfg.activations.payload_fraction;
  (void)p;
  return o;
}

JobPlan plan_with_profile(const JobConfig& cfg, Profile profile, const PlanArgs& a) {
  JobPlan jp;
  jp.profile = std::move(profile);
  const uint64_t cap = a.gpu_mem ? a.gpu_mem : cfg.memory.device_capacity;
  jp.options = job_search_options(cfg, jp.profile, cap, a.host_mem, a.allow_compress);
  jp.options.progress = a.progress;
  jp.result = search_plan(jp.profile, jp.options);
  return jp;
}

JobPlan plan_job(const JobConfig& cfg, const PlanArgs& a) {
  const std::string hw_arg = a.hardware.empty() ? default_hardware_name(cfg.backend) : a.hardware;
  const HardwareProfile hw = resolve_hardware(hw_arg);
  Profile p = analytic_profile(cfg, hw);
  std::string note = "analytic profile on " + hw.name +
                     (hw.estimated ? " (estimated: datasheet figures)" : " (measured hardware)");
  const bool json = hw_arg.size() > 5 && hw_arg.compare(hw_arg.size() - 5, 5, ".json") == 0;
  if (json) {
    Profile measured = load_profile(hw_arg);
    if (same_model(measured, p.model)) {
      // Its block timings are this model's, on this machine: use them for the micro-batches it
      // measured (the others keep their analytic estimate).
      for (auto& mb : p.micro_batches)
        if (const MicroBatchProfile* m = measured.find(mb.micro_batch)) mb = *m;
      p.source = measured.source;
      p.act_modes = measured.act_modes;
      note = "measured profile " + hw_arg + " of this model";
    } else {
      note = "analytic profile on the measured hardware of " + hw_arg;
    }
  }
  JobPlan jp = plan_with_profile(cfg, std::move(p), a);
  jp.profile_note = note;
  return jp;
}

void apply_plan(JobConfig& cfg, const Profile& p, const PlanCandidate& c) {
  const PlanChoice& k = c.plan;
  cfg.memory.mode = "manual";
  cfg.memory.n_persist = k.n_persist;
  cfg.memory.n_buffer = std::max(1, k.n_buffer);  // unused when every chunk is persistent
  cfg.memory.chunk_size = k.chunk_elems * static_cast<uint64_t>(p.model.act_bytes);
  cfg.activations.modes.clear();
  cfg.activations.counts = k.blocks;
  cfg.train.micro_batch = k.micro_batch;
  cfg.train.grad_accum = k.grad_accum;
}

nlohmann::json plan_choice_json(const Profile& p, const PlanChoice& c) {
  const ModelChunks mc = model_chunks(p.model, c.chunk_elems);
  nlohmann::json j = {{"micro_batch", c.micro_batch},
                      {"grad_accum", c.grad_accum},
                      {"chunk_elems", c.chunk_elems},
                      {"chunk_bytes", c.chunk_elems * static_cast<uint64_t>(p.model.act_bytes)},
                      {"n_chunks", mc.n_chunks()},
                      {"n_persist", c.n_persist},
                      {"n_buffer", c.n_persist >= mc.n_chunks() ? 0 : c.n_buffer},
                      {"block_modes", plan_block_modes(p, c)}};
  for (const ActModeTraits& t : kActModeTraits)  // n_swap, n_checkpoint, ...
    if (t.count_key) j[t.count_key] = c.blocks[t.mode];
  return j;
}

nlohmann::json prediction_json(const PlanCandidate& c) {
  const auto& m = c.memory;
  const auto& t = c.time;
  nlohmann::json busy;
  for (int r = 0; r < 4; ++r) busy[resource_name(static_cast<Resource>(r))] = t.busy_s[r];
  return {{"peak_device_bytes", m.device},
          {"pinned_host_bytes", m.pinned_host},
          {"host_bytes", m.host},
          {"iteration_s", t.iteration_s},
          {"tokens_per_s", t.tokens_per_s},
          {"mfu", t.mfu},
          {"device_memory",
           {{"model_states", m.model_states},
            {"io", m.io},
            {"block_inputs", m.block_inputs},
            {"activations", m.activations},
            {"head", m.head},
            {"scratch", m.scratch}}},
          {"host_memory", {{"chunks", m.chunk_host}, {"swap", m.swap_host}}},
          {"busy_s", busy},
          {"uploads", t.uploads},
          {"upload_bytes", t.upload_bytes},
          {"offloads", t.offloads},
          {"offload_bytes", t.offload_bytes},
          {"swap_bytes", t.swap_bytes}};
}

nlohmann::json job_plan_json(const JobPlan& jp) {
  const SearchResult& r = jp.result;
  const Profile& p = jp.profile;
  nlohmann::json j = {
      {"fits", r.fits},
      {"reason", r.reason},
      {"message", r.message},
      {"suggestions", r.suggestions},
      {"model",
       {{"name", p.model.name},
        {"n_params", p.model.n_params},
        {"n_layer", p.model.n_layer},
        {"seq_len", p.model.seq_len}}},
      {"hardware", {{"name", p.hardware.name}, {"estimated", p.hardware.estimated}}},
      {"profile", {{"source", p.source}, {"note", jp.profile_note}}},
      {"limits",
       {{"device_bytes", r.device_capacity},
        {"host_bytes", r.host_memory},
        {"pinned_bytes", r.pinned_limit}}},
      {"search",
       {{"points", r.points},
        {"feasible", r.feasible},
        {"simulated", r.simulated},
        {"sim_ops", r.sim_ops},
        {"exhaustive", r.exhaustive}}}};
  if (r.fits) {
    j["binding_resource"] = r.best.time.binding;
    j["why"] = r.best.time.why;
    j["why_chosen"] = r.best.why;
    j["plan"] = plan_choice_json(p, r.best.plan);
    j["predicted"] = prediction_json(r.best);
    nlohmann::json alts = nlohmann::json::array();
    for (auto& a : r.alternatives)
      alts.push_back({{"plan", plan_choice_json(p, a.plan)},
                      {"predicted", prediction_json(a)},
                      {"why_not_chosen", a.why}});
    j["alternatives"] = alts;
  } else {
    j["binding_resource"] = r.reason == "host" ? "host_memory" : "device_memory";
    j["plan"] = nullptr;
    j["predicted"] = nullptr;
  }
  return j;
}

std::string job_plan_text(const JobPlan& jp, bool explain) {
  const SearchResult& r = jp.result;
  const Profile& p = jp.profile;
  std::ostringstream os;
  const double np = static_cast<double>(p.model.n_params);
  os << "model     " << p.model.name << ": "
     << (np >= 1e9 ? fixed(np / 1e9, 2) + "B" : fixed(np / 1e6, 2) + "M") << " params, "
     << p.model.n_layer << " blocks, seq " << p.model.seq_len << ", global batch "
     << jp.options.global_batch << "\n";
  os << "hardware  " << p.hardware.name
     << (p.hardware.estimated ? " (estimated: datasheet figures; `mart profile` measures)" : "")
     << "\n";
  os << "profile   " << jp.profile_note << "\n";
  os << "limits    device " << format_bytes(r.device_capacity) << ", host "
     << format_bytes(r.host_memory) << " (pinned " << format_bytes(r.pinned_limit) << ")\n";
  if (!r.fits) {
    os << "fits      NO (" << r.reason << " memory)\n  " << r.message << "\n";
    for (auto& s : r.suggestions) os << "  would fit with: " << s << "\n";
    return os.str();
  }
  const PlanCandidate& b = r.best;
  const auto& k = b.plan;
  const ModelChunks mc = model_chunks(p.model, k.chunk_elems);
  const uint64_t chunk_bytes = k.chunk_elems * static_cast<uint64_t>(p.model.act_bytes);
  os << "fits      yes\n";
  os << "plan      micro-batch " << k.micro_batch << " x " << k.grad_accum << " accumulation; "
     << mc.n_chunks() << " chunks of " << format_bytes(chunk_bytes) << ", " << k.n_persist
     << " persistent on the device";
  if (k.n_persist < mc.n_chunks()) os << ", " << k.n_buffer << " device buffers";
  os << "\n          activations: " << modes_summary(k, p.model.n_layer) << "\n";
  os << "predicted peak device memory " << format_bytes(b.memory.device) << " of "
     << format_bytes(r.device_capacity) << "\n";
  os << "          pinned host memory " << format_bytes(b.memory.pinned_host) << ", host memory "
     << format_bytes(b.memory.host) << "\n";
  os << "          iteration " << fixed(b.time.iteration_s, 4) << " s, "
     << fixed(b.time.tokens_per_s, 0) << " tokens/s, MFU " << fixed(100 * b.time.mfu, 1) << "%\n";
  os << "binding   " << b.time.binding << ": " << b.time.why << "\n";
  os << "chosen    " << b.why << "\n";
  if (explain) {
    const auto& m = b.memory;
    os << "\ndevice memory (exact, the arena's regions):\n"
       << "  model states  " << format_bytes(m.model_states) << "\n"
       << "  block inputs  " << format_bytes(m.block_inputs) << "\n"
       << "  activations   " << format_bytes(m.activations) << "\n"
       << "  head          " << format_bytes(m.head) << "\n"
       << "  scratch + io  " << format_bytes(m.scratch + m.io) << "\n"
       << "pinned host: chunks " << format_bytes(m.chunk_host) << ", swapped activations "
       << format_bytes(m.swap_host) << "\n";
    if (k.blocks[ActMode::CompressSwap] > 0)
      os << "compress_swap copies are priced at the budget (payload_fraction "
         << fixed(jp.options.cost.compress.payload_fraction, 2)
         << "): an upper bound, the runtime copies what each encoding fills\n";
    os << "per step: " << b.time.uploads << " uploads (" << format_bytes(b.time.upload_bytes)
       << "), " << b.time.offloads << " offloads (" << format_bytes(b.time.offload_bytes)
       << "), swap " << format_bytes(b.time.swap_bytes) << "\n";
    os << "busy: compute " << fixed(b.time.busy_s[0], 4) << " s, h2d " << fixed(b.time.busy_s[1], 4)
       << " s, d2h " << fixed(b.time.busy_s[2], 4) << " s, cpu adam " << fixed(b.time.busy_s[3], 4)
       << " s\n";
    os << "block modes: ";
    for (ActMode m : block_modes_from_counts(p.model.n_layer, k.blocks)) os << act_traits(m).letter;
    os << "  (";
    for (const ActModeTraits& t : kActModeTraits) os << t.letter << " " << t.name << ", ";
    os << "block 0 first)\n";
    os << "search: " << r.points << " plans priced in memory, " << r.feasible << " fit, "
       << r.simulated << " simulated"
       << " (" << r.sim_ops << " simulated events)"
       << (r.exhaustive ? ", branch and bound closed" : ", stopped by the work bound") << "\n";
    if (!r.alternatives.empty()) os << "runner-ups:\n";
    for (auto& a : r.alternatives) {
      const ModelChunks ac = model_chunks(p.model, a.plan.chunk_elems);
      os << "  " << fixed(a.time.iteration_s, 4) << " s  micro-batch " << a.plan.micro_batch
         << ", chunks " << ac.n_chunks() << " x "
         << format_bytes(a.plan.chunk_elems * static_cast<uint64_t>(p.model.act_bytes))
         << ", persist " << a.plan.n_persist << ", buffers " << a.plan.n_buffer << ", "
         << modes_summary(a.plan, p.model.n_layer) << ", device " << format_bytes(a.memory.device)
         << "\n";
      if (!a.why.empty()) os << "           " << a.why << "\n";
    }
  }
  return os.str();
}

}  // namespace mart
