// A small discrete-event simulator for the cost model: operations on five in-order queues
// ("resources") with dependencies, timed as a fluid model.
//
//   Compute  the device's compute stream (on the CPU backend: the host thread, which runs compute
//            inline; see Rates::compute_on_host)
//   H2D      host-to-device copy stream          D2H  device-to-host copy stream
//   CpuAdam  the CPU-Adam thread pool (updates complete in submission order)
//   Host     the host thread's blocking points (synchronize, event waits) on a GPU backend
//
// Each queue runs its operations in the order they were added, one at a time; an operation also
// waits for its dependencies. An operation carries `work`: the seconds it takes when it has its
// resource to itself. Between events the set of running operations is fixed and each progresses
// at a rate that depends on what else runs:
//   - H2D and D2H share PCIe: while both copy, each runs at its duplex bandwidth (a fraction of
//     its solo bandwidth);
//   - with compute_on_host, compute and CPU Adam share the host's cores: while both run, each
//     progresses at host_overlap_rate.
// Zero-work operations (stream waits, host syncs) complete as soon as they may start.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "nlohmann/json_fwd.hpp"

namespace mart {

enum class Resource : uint8_t { Compute, H2D, D2H, CpuAdam, Host };
constexpr int kResources = 5;
const char* resource_name(Resource r);

class EventSim {
 public:
  using OpId = int32_t;
  struct Rates {
    double h2d_duplex = 1.0;  // H2D rate while D2H copies (duplex / solo bandwidth)
    double d2h_duplex = 1.0;
    bool compute_on_host = false;
    double host_overlap_rate = 1.0;
  };

  void clear();  // keeps capacity: a search runs thousands of simulations
  // Adds an operation at the end of resource r's queue; deps < 0 are ignored.
  OpId add(Resource r, double work, std::initializer_list<OpId> deps, const char* name,
           int tag = -1);
  OpId add(Resource r, double work, const OpId* deps, int n_deps, const char* name, int tag = -1);
  // Runs every operation; throws mart::Error if the dependencies deadlock (a builder bug).
  void run(const Rates& rates);

  int size() const { return static_cast<int>(ops_.size()); }
  Resource resource(OpId i) const { return ops_[i].res; }
  double work(OpId i) const { return ops_[i].work; }
  const char* name(OpId i) const { return ops_[i].name; }
  int tag(OpId i) const { return ops_[i].tag; }  // e.g. the block or chunk; -1 when none
  double start(OpId i) const { return start_[i]; }
  double end(OpId i) const { return end_[i]; }
  // Seconds resource r spent running operations with work inside [t0, t1].
  double busy(Resource r, double t0, double t1) const;
  // Chrome/Perfetto trace events ("X" phases, microseconds) for operations with work, one
  // thread per resource; appended to `events` (a JSON array).
  void append_trace(nlohmann::json& events) const;

 private:
  struct Op {
    Resource res;
    double work;
    int32_t dep_begin, dep_end;  // into deps_
    const char* name;
    int tag;
  };
  std::vector<Op> ops_;
  std::vector<OpId> deps_;
  std::vector<double> start_, end_, remaining_;
  std::vector<int32_t> pending_, succ_begin_, succ_;
  std::vector<OpId> queue_[kResources];
};

}  // namespace mart
