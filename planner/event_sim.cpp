#include "planner/event_sim.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/error.h"

namespace mart {

const char* resource_name(Resource r) {
  switch (r) {
    case Resource::Compute:
      return "compute";
    case Resource::H2D:
      return "h2d";
    case Resource::D2H:
      return "d2h";
    case Resource::CpuAdam:
      return "cpu_adam";
    case Resource::Host:
      return "host";
  }
  return "?";
}

void EventSim::clear() {
  ops_.clear();
  deps_.clear();
  for (auto& q : queue_) q.clear();
}

EventSim::OpId EventSim::add(Resource r, double work, std::initializer_list<OpId> deps,
                             const char* name, int tag) {
  return add(r, work, deps.begin(), static_cast<int>(deps.size()), name, tag);
}

EventSim::OpId EventSim::add(Resource r, double work, const OpId* deps, int n_deps,
                             const char* name, int tag) {
  const auto b = static_cast<int32_t>(deps_.size());
  for (int k = 0; k < n_deps; ++k)
    if (deps[k] >= 0) deps_.push_back(deps[k]);
  ops_.push_back({r, std::max(0.0, work), b, static_cast<int32_t>(deps_.size()), name, tag});
  const OpId id = static_cast<OpId>(ops_.size()) - 1;
  queue_[static_cast<int>(r)].push_back(id);
  return id;
}

void EventSim::run(const Rates& rates) {
  const int n = size();
  start_.assign(n, -1);
  end_.assign(n, -1);
  remaining_.resize(n);
  pending_.assign(n, 0);
  // Successor lists (CSR) so that finishing an operation releases its dependents in O(1) each.
  succ_begin_.assign(n + 1, 0);
  for (int i = 0; i < n; ++i) {
    remaining_[i] = ops_[i].work;
    for (int k = ops_[i].dep_begin; k < ops_[i].dep_end; ++k) ++succ_begin_[deps_[k] + 1];
    pending_[i] = ops_[i].dep_end - ops_[i].dep_begin;
  }
  for (int i = 0; i < n; ++i) succ_begin_[i + 1] += succ_begin_[i];
  succ_.resize(deps_.size());
  {
    std::vector<int32_t> fill(succ_begin_.begin(), succ_begin_.end() - 1);
    for (int i = 0; i < n; ++i)
      for (int k = ops_[i].dep_begin; k < ops_[i].dep_end; ++k) succ_[fill[deps_[k]]++] = i;
  }
  size_t head[kResources] = {};
  OpId running[kResources];
  std::fill(std::begin(running), std::end(running), -1);
  double t = 0;
  auto finish = [&](OpId i) {
    end_[i] = t;
    for (int k = succ_begin_[i]; k < succ_begin_[i + 1]; ++k) --pending_[succ_[k]];
  };
  const int H2D = static_cast<int>(Resource::H2D), D2H = static_cast<int>(Resource::D2H);
  const int CMP = static_cast<int>(Resource::Compute), ADAM = static_cast<int>(Resource::CpuAdam);
  for (;;) {
    // Start every queue head that may start; zero-work operations finish on the spot, which may
    // release further heads, so repeat until nothing changes.
    for (bool progress = true; progress;) {
      progress = false;
      for (int r = 0; r < kResources; ++r) {
        if (running[r] >= 0 || head[r] >= queue_[r].size()) continue;
        const OpId i = queue_[r][head[r]];
        if (pending_[i] > 0) continue;
        start_[i] = t;
        if (remaining_[i] <= 0) {
          finish(i);
          ++head[r];
          progress = true;
        } else {
          running[r] = i;
        }
      }
    }
    double rate[kResources];
    bool any = false;
    for (int r = 0; r < kResources; ++r) {
      rate[r] = 1.0;
      any |= running[r] >= 0;
    }
    if (!any) break;
    if (running[H2D] >= 0 && running[D2H] >= 0) {
      rate[H2D] = rates.h2d_duplex;
      rate[D2H] = rates.d2h_duplex;
    }
    if (rates.compute_on_host && running[CMP] >= 0 && running[ADAM] >= 0)
      rate[CMP] = rate[ADAM] = rates.host_overlap_rate;
    double dt = std::numeric_limits<double>::infinity();
    for (int r = 0; r < kResources; ++r)
      if (running[r] >= 0) dt = std::min(dt, remaining_[running[r]] / rate[r]);
    t += dt;
    for (int r = 0; r < kResources; ++r) {
      const OpId i = running[r];
      if (i < 0) continue;
      remaining_[i] -= rate[r] * dt;
      if (remaining_[i] <= 1e-12 * (1.0 + ops_[i].work)) {
        remaining_[i] = 0;
        finish(i);
        running[r] = -1;
        ++head[r];
      }
    }
  }
  for (int r = 0; r < kResources; ++r)
    if (head[r] < queue_[r].size()) {
      const OpId i = queue_[r][head[r]];
      MART_FAIL("cost model: the simulated schedule deadlocks at ", resource_name(ops_[i].res),
                " operation '", ops_[i].name, "' (", ops_[i].tag, "); this is a planner bug");
    }
}

double EventSim::busy(Resource r, double t0, double t1) const {
  double s = 0;
  for (OpId i : queue_[static_cast<int>(r)]) {
    if (ops_[i].work <= 0) continue;
    const double a = std::max(t0, start_[i]), b = std::min(t1, end_[i]);
    if (b > a) s += b - a;
  }
  return s;
}

void EventSim::append_trace(nlohmann::json& events) const {
  for (int r = 0; r < kResources; ++r)
    events.push_back({{"name", "thread_name"},
                      {"ph", "M"},
                      {"pid", 1},
                      {"tid", r},
                      {"args", {{"name", resource_name(static_cast<Resource>(r))}}}});
  for (int i = 0; i < size(); ++i) {
    if (ops_[i].work <= 0) continue;
    std::string name = ops_[i].name;
    if (ops_[i].tag >= 0) name += " " + std::to_string(ops_[i].tag);
    events.push_back({{"name", name},
                      {"cat", resource_name(ops_[i].res)},
                      {"ph", "X"},
                      {"pid", 1},
                      {"tid", static_cast<int>(ops_[i].res)},
                      {"ts", start_[i] * 1e6},
                      {"dur", (end_[i] - start_[i]) * 1e6}});
  }
}

}  // namespace mart
